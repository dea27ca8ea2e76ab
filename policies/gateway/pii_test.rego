package gateway.pii_test

import data.gateway.authz
import data.gateway.fixtures_test.with_

us := {"tenant": "globex", "upstream": {"name": "us-gpu", "labels": {"region": "us"}}, "model": "qwen2.5-7b-instruct"}

test_card_without_pci_must_be_removed if {
	d := authz.decision with input as with_(object.union(us, {"pii": {"CREDIT_CARD": 2}}))
	d.allow
	d.obligations.pii_operators == {"CREDIT_CARD": "remove"}
}

test_card_with_pci_passes_untouched if {
	d := authz.decision with input as with_({"pii": {"CREDIT_CARD": 1}})
	d.allow
	not "pii_operators" in object.keys(d.obligations)
}

test_cn_id_without_kyc_is_denied if {
	d := authz.decision with input as with_({"pii": {"CN_RESIDENT_ID": 1}})
	not d.allow
	"the request contains CN_RESIDENT_ID and the tenant lacks the kyc entitlement" in d.deny_reasons
}

test_cn_id_with_kyc_from_claims_is_allowed if {
	authz.allow with input as with_({"pii": {"CN_RESIDENT_ID": 1}, "claims": {"entitlements": ["kyc"]}})
}

test_zero_counts_are_ignored if {
	d := authz.decision with input as with_(object.union(us, {"pii": {"CN_RESIDENT_ID": 0, "CREDIT_CARD": 0}}))
	d.allow
	d.obligations == {"max_tokens": 4096}
}

test_entities_without_rules_are_ignored if {
	authz.allow with input as with_({"pii": {"EMAIL_ADDRESS": 3, "PERSON": 1}})
}

test_unknown_action_denies if {
	rules := {"CREDIT_CARD": {"entitlement": "pci", "without": "shrug"}}
	reasons := authz.deny_reasons with input as with_(object.union(us, {"pii": {"CREDIT_CARD": 1}})) with data.gateway.pii_rules as rules
	"the PII rule for CREDIT_CARD has an unknown action" in reasons
}

test_every_rule_names_an_entity_the_engine_emits if {
	count(authz.unknown_rule_entities) == 0
}

test_a_rule_with_a_misspelt_entity_is_caught if {
	rules := {"NOT_AN_ENTITY": {"entitlement": "kyc", "without": "deny"}}
	authz.unknown_rule_entities == {"NOT_AN_ENTITY"} with data.gateway.pii_rules as rules
}

test_resident_id_without_kyc_is_denied_for_a_real_tenant if {
	d := authz.decision with input as with_({"tenant": "globex", "model": "qwen2.5-7b-instruct", "upstream": {"name": "us-gpu", "labels": {"region": "us"}}, "pii": {"CN_RESIDENT_ID": 1}})
	not d.allow
	"the request contains CN_RESIDENT_ID and the tenant lacks the kyc entitlement" in d.deny_reasons
}
