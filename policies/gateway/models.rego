# Model access by role and tenant plan, and the model deny list.
# A model missing from the catalogue falls back to the "*" entry; with no "*"
# entry, unknown models are denied (fail closed).
package gateway.authz

model_entry := data.gateway.models[input.model] if is_string(input.model)
else := data.gateway.models["*"]

deny_reasons contains "a model name is required on this route" if {
	sends_data
	not is_string(input.model)
}

deny_reasons contains msg if {
	is_string(input.model)
	not _plan_permits_model
	not active_grant
	msg := sprintf("the %v plan does not include model %s", [plan, input.model])
}

deny_reasons contains msg if {
	is_string(input.model)
	not _role_permits_model
	not active_grant
	msg := sprintf("none of the roles [%s] may use model %s", [concat(", ", sort(roles)), input.model])
}

# The deny list wins over every grant. Keys are glob patterns ("/" delimits).
deny_reasons contains msg if {
	is_string(input.model)
	some pattern, why in data.gateway.model_deny_list
	glob.match(pattern, ["/"], input.model)
	msg := sprintf("model %s is denied: %s", [input.model, why])
}

_plan_permits_model if plan in model_entry.plans

_role_permits_model if {
	some r in roles
	r in model_entry.roles
}
