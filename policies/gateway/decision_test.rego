package gateway.decision_test

import data.gateway.authz
import data.gateway.fixtures_test.allowed
import data.gateway.fixtures_test.with_

test_decision_document_shape if {
	d := authz.decision with input as allowed
	d.allow == true
	d.deny_reasons == []
	d.obligations == {"max_tokens": 4096}
}

test_any_deny_reason_denies if {
	d := authz.decision with input as with_({"model": "llama-2-7b-uncensored"})
	d.allow == false
	count(d.deny_reasons) > 0
}

test_empty_input_is_denied if {
	d := authz.decision with input as {}
	d.allow == false
	"input.route must be a string" in d.deny_reasons
}

test_models_route_needs_no_model_and_gets_no_cap if {
	d := authz.decision with input as with_({"route": "models", "model": null})
	d.allow == true
	d.obligations == {}
}

test_embeddings_get_no_max_tokens_obligation if {
	d := authz.decision with input as with_({"route": "embeddings"})
	not "max_tokens" in object.keys(d.obligations)
}
