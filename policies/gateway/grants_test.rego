package gateway.grants_test

import data.gateway.authz
import data.gateway.fixtures_test.with_

# alice@globex is on the pro plan with the user role: deepseek-r1 needs enterprise + admin.
alice := with_({
	"subject": "alice@globex",
	"tenant": "globex",
	"roles": ["user"],
	"model": "deepseek-r1",
	"upstream": {"name": "us-gpu", "labels": {"region": "us"}},
})

test_grant_inside_its_window_allows if {
	authz.allow with input as alice
	authz.decision.audit.grants == ["grant-2026-017"] with input as alice
}

test_grant_before_nbf_denies if {
	inp := object.union(alice, {"time": 1793491199})
	not authz.allow with input as inp
	"access grant grant-2026-017 for model deepseek-r1 is not valid at this time" in authz.deny_reasons with input as inp
}

test_grant_at_exp_denies if {
	not authz.allow with input as object.union(alice, {"time": 1796083200})
}

test_grant_is_personal if {
	not authz.allow with input as object.union(alice, {"subject": "mallory@globex"})
}

test_grant_is_for_one_model if {
	not authz.allow with input as object.union(alice, {"model": "deepseek-r1-distill"}) with data.gateway.models["deepseek-r1-distill"] as data.gateway.models["deepseek-r1"]
}

test_grant_without_bounds_is_never_active if {
	grants := [{"id": "g", "subject": "alice@globex", "model": "deepseek-r1"}]
	not authz.allow with input as alice with data.gateway.grants as grants
}

test_grant_without_principal_is_ignored if {
	grants := [{"id": "g", "model": "deepseek-r1", "nbf": 0, "exp": 9999999999}]
	not authz.allow with input as alice with data.gateway.grants as grants
}

test_deny_list_wins_over_a_grant if {
	not authz.allow with input as alice with data.gateway.model_deny_list as {"deepseek-*": "withdrawn"}
}
