# PII rules on the findings of the PII stage (entity type -> count; the values
# never reach the policy). An entity whose rule names an entitlement the tenant
# lacks is either denied or must be removed (redaction operator "remove").
package gateway.authz

_unentitled contains entity if {
	some entity, n in pii
	n > 0
	rule := data.gateway.pii_rules[entity]
	not rule.entitlement in entitlements
}

deny_reasons contains msg if {
	some entity in _unentitled
	rule := data.gateway.pii_rules[entity]
	rule.without == "deny"
	msg := sprintf("the request contains %s and the tenant lacks the %s entitlement", [entity, rule.entitlement])
}

pii_operators[entity] := "remove" if {
	some entity in _unentitled
	data.gateway.pii_rules[entity].without == "remove"
}

# A rule with an action this bundle does not know is a configuration error: deny.
deny_reasons contains msg if {
	some entity in _unentitled
	rule := data.gateway.pii_rules[entity]
	not rule.without in {"deny", "remove"}
	msg := sprintf("the PII rule for %s has an unknown action", [entity])
}

# The vocabulary shared with the PII engine (data.gateway.pii_entities): the bundle's own
# tests refuse a bundle whose rules name an entity the engine never emits (a rule that can
# never fire), and tests/policies/test_vocabulary.py keeps the list equal to the engine's.
unknown_rule_entities contains entity if {
	some entity, _ in data.gateway.pii_rules
	not entity in data.gateway.pii_entities
}
