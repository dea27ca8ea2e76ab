package gateway.limits_test

import data.gateway.authz
import data.gateway.fixtures_test.with_

test_cap_follows_the_role if {
	authz.decision.obligations.max_tokens == 4096 with input as with_({"roles": ["analyst"]})
	authz.decision.obligations.max_tokens == 1024 with input as with_({"roles": ["user"], "model": "smollm2-135m"})
}

test_most_generous_role_wins if {
	authz.decision.obligations.max_tokens == 8192 with input as with_({"roles": ["user", "admin"]})
}

test_unknown_roles_get_the_defaults if {
	authz.max_tokens_cap == 512 with input as with_({"roles": ["intern"]})
	authz.context_cap == 4096 with input as with_({"roles": ["intern"]})
}

test_prompt_over_the_context_cap_is_denied if {
	inp := with_({"request": {"prompt_tokens_estimate": 40000}})
	"the prompt (about 40000 tokens) exceeds the context cap of 32768 tokens for your roles" in authz.deny_reasons with input as inp
	authz.allow with input as object.union(inp, {"roles": ["admin"]})
}

test_large_max_tokens_is_capped_not_denied if {
	d := authz.decision with input as with_({"request": {"max_tokens": 100000}})
	d.allow
	d.obligations.max_tokens == 4096
}
