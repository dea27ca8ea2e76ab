# Who is asking: tenant attributes come from data (the security team's source of
# truth) and fall back to the verified token's claims for tenants not listed.
package gateway.authz

tenant_info := data.gateway.tenants[input.tenant] if is_string(input.tenant)
else := {}

plan := object.get(tenant_info, "plan", object.get(claims, "plan", data.gateway.defaults.plan))

region := object.get(tenant_info, "region", object.get(claims, "region", null))

entitlements := {e | some e in object.get(tenant_info, "entitlements", [])} | {e | some e in _claim_entitlements}

_claim_entitlements := claims.entitlements if is_array(claims.entitlements)
else := []

# Requests without an identity (auth disabled) get the configured anonymous roles.
roles := {r | some r in data.gateway.defaults.anonymous_roles} if is_null(input.subject)
else := {r | some r in input.roles; is_string(r)} if is_array(input.roles)
else := set()

# Routes that send data to a model (listing models sends none).
model_routes := {"chat", "completions", "embeddings"}

sends_data if input.route in model_routes
