# Time-boxed access: a grant in data lets a subject (or a whole tenant) use a
# model that its roles or plan do not include, between nbf and exp (unix
# seconds, as in a JWT). A grant missing either bound is never active.
package gateway.authz

active_grants contains g.id if {
	some g in data.gateway.grants
	_grant_applies(g)
	g.nbf <= now
	now < g.exp
}

active_grant if count(active_grants) > 0

# Say why a grant did not help: it exists but is outside its window.
deny_reasons contains msg if {
	not active_grant
	not _allowed_without_grant
	some g in data.gateway.grants
	_grant_applies(g)
	msg := sprintf("access grant %s for model %s is not valid at this time", [g.id, input.model])
}

_allowed_without_grant if {
	_plan_permits_model
	_role_permits_model
}

_grant_applies(g) if {
	is_string(input.model)
	g.model == input.model
	_has_principal(g)
	object.get(g, "subject", input.subject) == input.subject
	object.get(g, "tenant", input.tenant) == input.tenant
}

_has_principal(g) if is_string(g.subject)

_has_principal(g) if is_string(g.tenant)
