# The decision document the gateway reads: {allow, deny_reasons, obligations}.
# allow is true only when no rule gave a reason to deny. Obligations tighten
# what an allowed request may do; the gateway refuses obligations it does not
# know how to enforce.
package gateway.authz

default allow := false

allow if count(deny_reasons) == 0

obligations := {name: value | some [name, value] in _obligations}

_obligations contains ["max_tokens", max_tokens_cap] if input.route in {"chat", "completions"}

_obligations contains ["pii_operators", pii_operators] if count(pii_operators) > 0

decision := {
	"allow": allow,
	"deny_reasons": sort(deny_reasons),
	"obligations": obligations,
	"audit": {"grants": sort(active_grants)},
}
