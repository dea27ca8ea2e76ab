package gateway.tenant_test

import data.gateway.authz
import data.gateway.fixtures_test.with_

test_tenant_attributes_come_from_data if {
	authz.plan == "enterprise" with input as with_({"claims": {"plan": "free"}})
	authz.region == "eu" with input as with_({"claims": {"region": "us"}})
	authz.entitlements == {"pci"} with input as with_({})
}

# Entitlements are checked through the decision: regorus 0.13 answers a direct query of
# `entitlements` under `with input as` without the claims part (see docs/policy.md).
test_claims_fill_in_for_unknown_tenants if {
	inp := with_({"tenant": "newco", "claims": {"plan": "pro", "region": "cn", "entitlements": ["kyc"]}})
	authz.plan == "pro" with input as inp
	authz.region == "cn" with input as inp
	authz.allow with input as object.union(inp, {"pii": {"CN_RESIDENT_ID": 1}, "upstream": {"name": "cn-gpu", "labels": {"region": "cn"}}})
}

test_entitlements_union_data_and_claims if {
	inp := with_({"pii": {"CN_RESIDENT_ID": 1, "CREDIT_CARD": 1}, "claims": {"entitlements": ["kyc"]}})
	d := authz.decision with input as inp
	d.allow # kyc from the claims
	not "pii_operators" in object.keys(d.obligations) # pci from data
}

test_defaults_without_data_or_claims if {
	inp := with_({"tenant": "newco", "claims": {"entitlements": "kyc"}})
	authz.plan == "free" with input as inp
	authz.region == null with input as inp
	authz.entitlements == set() with input as inp
}

test_roles_ignore_non_strings_and_anonymous_get_defaults if {
	authz.roles == {"analyst"} with input as with_({"roles": ["analyst", 3]})
	authz.roles == {"user"} with input as with_({"subject": null})
}
