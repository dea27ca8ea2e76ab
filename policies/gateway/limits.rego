# max_tokens and context caps by role: the most generous of the caller's roles
# applies; callers without a listed role get the defaults. Over-long prompts
# are denied; max_tokens is capped through an obligation, not denied.
package gateway.authz

max_tokens_cap := _role_limit("max_tokens")

context_cap := _role_limit("max_context_tokens")

deny_reasons contains msg if {
	sends_data
	n := object.get(request, "prompt_tokens_estimate", 0)
	_non_negative(n)
	n > context_cap
	msg := sprintf("the prompt (about %v tokens) exceeds the context cap of %v tokens for your roles", [n, context_cap])
}

_role_limit(field) := max(caps) if {
	caps := {c | some r in roles; c := data.gateway.role_limits[r][field]}
	count(caps) > 0
} else := data.gateway.defaults.limits[field]
