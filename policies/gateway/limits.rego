# max_tokens and context caps by role: the most generous of the caller's roles
# applies; callers without a listed role get the defaults. Over-long prompts
# are denied; max_tokens is capped through an obligation, not denied.
package gateway.authz

max_tokens_cap := max(caps) if {
	caps := {c | some r in roles; c := data.gateway.role_limits[r].max_tokens}
	count(caps) > 0
} else := data.gateway.defaults.limits.max_tokens

context_cap := max(caps) if {
	caps := {c | some r in roles; c := data.gateway.role_limits[r].max_context_tokens}
	count(caps) > 0
} else := data.gateway.defaults.limits.max_context_tokens

deny_reasons contains msg if {
	sends_data
	prompt_tokens > context_cap
	msg := sprintf("the prompt (about %v tokens) exceeds the context cap of %v tokens for your roles", [prompt_tokens, context_cap])
}
