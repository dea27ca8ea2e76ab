package gateway.input_test

import data.gateway.authz
import data.gateway.fixtures_test.with_

test_roles_must_be_an_array if {
	"input.roles must be an array of strings" in authz.deny_reasons with input as with_({"roles": "admin"})
}

test_roles_must_be_strings if {
	"input.roles must be an array of strings" in authz.deny_reasons with input as with_({"roles": ["admin", 7]})
}

test_model_must_be_a_string if {
	"input.model must be a string or null" in authz.deny_reasons with input as with_({"model": ["a", "b"]})
}

test_pii_counts_must_be_numbers if {
	reason := "input.pii must map entity types to non-negative counts"
	reason in authz.deny_reasons with input as with_({"pii": {"CREDIT_CARD": "many"}})
	reason in authz.deny_reasons with input as with_({"pii": ["CREDIT_CARD"]})
	reason in authz.deny_reasons with input as with_({"pii": {"CREDIT_CARD": -1}})
}

test_max_tokens_must_be_a_positive_integer if {
	reason := "request.max_tokens must be a positive integer"
	reason in authz.deny_reasons with input as with_({"request": {"max_tokens": "lots"}})
	reason in authz.deny_reasons with input as with_({"request": {"max_tokens": 0}})
	reason in authz.deny_reasons with input as with_({"request": {"max_tokens": 1.5}})
	not reason in authz.deny_reasons with input as with_({"request": {"max_tokens": null}})
}

test_request_must_be_an_object if {
	"input.request must be an object" in authz.deny_reasons with input as with_({"request": "big"})
}

test_time_must_be_a_number if {
	"input.time must be a number (unix seconds)" in authz.deny_reasons with input as with_({"time": "now"})
}

test_labels_must_be_strings if {
	reason := "input.upstream.labels must be an object of strings"
	reason in authz.deny_reasons with input as with_({"upstream": {"name": "x", "labels": {"region": 1}}})
}

test_input_must_be_an_object if {
	"input must be an object" in authz.deny_reasons with input as ["route", "chat"]
	"input must be an object" in authz.deny_reasons with input as "chat"
}
