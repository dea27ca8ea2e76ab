package gateway.models_test

import data.gateway.authz
import data.gateway.fixtures_test.with_

test_analyst_on_enterprise_plan_may_use_70b if {
	authz.allow with input as with_({"model": "llama-3.1-70b-instruct"})
}

test_user_role_may_not_use_70b if {
	reasons := authz.deny_reasons with input as with_({"roles": ["user"]})
	"none of the roles [user] may use model llama-3.1-70b-instruct" in reasons
}

test_free_plan_may_not_use_pro_models if {
	reasons := authz.deny_reasons with input as with_({"tenant": "initech", "upstream": {"name": "us", "labels": {"region": "us"}}})
	"the free plan does not include model llama-3.1-70b-instruct" in reasons
}

test_plan_from_claims_when_tenant_not_in_data if {
	inp := with_({"tenant": "newco", "claims": {"plan": "pro"}, "upstream": {"name": "us", "labels": {}}})
	authz.allow with input as inp
	not authz.allow with input as object.union(inp, {"claims": {"plan": "free"}})
}

test_data_plan_wins_over_claims if {
	# initech is on the free plan in data; a claim cannot upgrade it.
	not authz.allow with input as with_({"tenant": "initech", "claims": {"plan": "enterprise"}, "upstream": {"name": "us", "labels": {}}})
}

test_unknown_model_uses_the_catch_all_entry if {
	authz.allow with input as with_({"model": "some-new-model"})
}

test_unknown_model_denied_without_catch_all if {
	models := {"llama-3.1-70b-instruct": data.gateway.models["llama-3.1-70b-instruct"]}
	not authz.allow with input as with_({"model": "some-new-model"}) with data.gateway.models as models
}

test_deny_list_exact_name if {
	reasons := authz.deny_reasons with input as with_({"model": "llama-2-7b-uncensored", "roles": ["admin"]})
	some r in reasons
	startswith(r, "model llama-2-7b-uncensored is denied")
}

test_deny_list_glob if {
	reasons := authz.deny_reasons with input as with_({"model": "qwen-jailbreak-v2", "roles": ["admin"]})
	some r in reasons
	startswith(r, "model qwen-jailbreak-v2 is denied")
}

test_anonymous_requests_get_the_anonymous_roles if {
	inp := with_({"subject": null, "tenant": null, "roles": [], "model": "smollm2-135m", "upstream": {"name": "dev", "labels": {}}})
	authz.allow with input as inp
	not authz.allow with input as inp with data.gateway.defaults.anonymous_roles as []
}

test_model_is_required_on_chat if {
	"a model name is required on this route" in authz.deny_reasons with input as with_({"model": null})
}
