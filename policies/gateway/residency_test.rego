package gateway.residency_test

import data.gateway.authz
import data.gateway.fixtures_test.with_

test_eu_tenant_on_eu_upstream_is_allowed if {
	authz.allow with input as with_({"upstream": {"name": "eu-gpu", "labels": {"region": "eu"}}})
}

test_eu_tenant_on_us_upstream_is_denied if {
	reasons := authz.deny_reasons with input as with_({"upstream": {"name": "us-gpu", "labels": {"region": "us"}}})
	"data of tenants in region eu must stay in eu; upstream us-gpu is us" in reasons
}

test_eu_tenant_on_unlabelled_upstream_is_denied if {
	reasons := authz.deny_reasons with input as with_({"upstream": {"name": "dev", "labels": {}}})
	"data of tenants in region eu must stay in eu; upstream dev is unlabelled" in reasons
}

test_region_from_claims_when_tenant_not_in_data if {
	inp := with_({"tenant": "newco", "claims": {"plan": "pro", "region": "eu"}, "upstream": {"name": "us-gpu", "labels": {"region": "us"}}})
	not authz.allow with input as inp
}

test_us_tenant_may_use_any_region if {
	authz.allow with input as with_({"tenant": "globex", "model": "qwen2.5-7b-instruct", "upstream": {"name": "eu-gpu", "labels": {"region": "eu"}}})
}

test_listing_models_is_not_a_data_transfer if {
	authz.allow with input as with_({"route": "models", "model": null, "upstream": null})
}
