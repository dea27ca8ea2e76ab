# Shared inputs for the bundle's tests: one allowed request, patched per test.
package gateway.fixtures_test

# Fri 2026-11-20 12:00 UTC: inside grant-2026-017's window.
now := 1795694400

allowed := {
	"subject": "bob@acme",
	"tenant": "acme",
	"roles": ["analyst"],
	"claims": {},
	"route": "chat",
	"model": "llama-3.1-70b-instruct",
	"upstream": {"name": "eu-gpu", "labels": {"region": "eu"}},
	"request": {"max_tokens": 256, "stream": false, "n_messages": 2, "prompt_tokens_estimate": 100},
	"pii": {},
	"time": now,
}

# Top-level keys of the patch replace the fixture's (no deep merge).
with_(patch) := object.union(object.remove(allowed, object.keys(patch)), patch)

test_fixture_is_allowed if {
	data.gateway.authz.allow with input as allowed
}
