# Input validation: an input of the wrong shape is denied with a reason that
# names the field, never evaluated into an accidental allow. The gateway builds
# the input from the request context (never raw message text); these rules also
# protect the OPA-server mode, where any client could send any JSON.
#
# Checks are written inline rather than through helper functions: a function
# call costs the regorus interpreter about twice an inline test, and these
# rules run on every request.
package gateway.authz

deny_reasons contains "input must be an object" if not is_object(input)

# Top-level fields: the JSON types each may have ("missing" = may be absent).
_input_schema := {
	"subject": {"kinds": {"string", "null"}, "what": "a string or null"},
	"tenant": {"kinds": {"string", "null"}, "what": "a string or null"},
	"model": {"kinds": {"string", "null"}, "what": "a string or null"},
	"route": {"kinds": {"string"}, "what": "a string"},
	"roles": {"kinds": {"array"}, "what": "an array of strings"},
	"claims": {"kinds": {"object", "missing"}, "what": "an object"},
	"request": {"kinds": {"object", "missing"}, "what": "an object"},
	"pii": {"kinds": {"object", "missing"}, "what": "an object of entity type -> count"},
	"upstream": {"kinds": {"object", "null", "missing"}, "what": "an object or null"},
	"time": {"kinds": {"number", "missing"}, "what": "a number (unix seconds)"},
}

_input_types := {k: type_name(v) | some k, v in input} if is_object(input)
else := {}

# One rule over the schema: cheaper for the interpreter than one rule per field.
deny_reasons contains sprintf("input.%s must be %s", [field, spec.what]) if {
	is_object(input)
	some field, spec in _input_schema
	not object.get(_input_types, field, "missing") in spec.kinds
}

deny_reasons contains "input.roles must be an array of strings" if {
	is_array(input.roles)
	some r in input.roles
	not is_string(r)
}

deny_reasons contains "input.pii counts must be non-negative numbers" if {
	is_object(input.pii)
	some n in input.pii
	not _is_count(n)
}

deny_reasons contains "input.upstream.labels must be an object of strings" if {
	is_object(input.upstream)
	"labels" in object.keys(input.upstream)
	not is_object(input.upstream.labels)
}

deny_reasons contains "input.upstream.labels must be an object of strings" if {
	is_object(input.upstream.labels)
	some v in input.upstream.labels
	not is_string(v)
}

deny_reasons contains "request.max_tokens must be a positive integer" if {
	mt := request.max_tokens
	not is_null(mt)
	not _is_positive_int(mt)
}

deny_reasons contains "request.prompt_tokens_estimate must be a non-negative number" if {
	n := request.prompt_tokens_estimate
	not _is_count(n)
}

# Normalised views of the input that the other rules read: always defined.
request := input.request if is_object(input.request)
else := {}

claims := input.claims if is_object(input.claims)
else := {}

# Entity -> count for the entities actually found (invalid entries are denied above).
pii := {entity: n | some entity, n in input.pii; is_number(n); n > 0} if is_object(input.pii)
else := {}

upstream_name := input.upstream.name if is_string(input.upstream.name)
else := "(none)"

upstream_labels := {k: v | some k, v in input.upstream.labels; is_string(v)} if is_object(input.upstream.labels)
else := {}

prompt_tokens := n if {
	n := request.prompt_tokens_estimate
	is_number(n)
} else := 0

# The decision time: the gateway sends it so that a decision can be replayed.
now := input.time if is_number(input.time)
else := time.now_ns() / 1000000000

_is_count(n) if {
	is_number(n)
	n >= 0
}

_is_positive_int(n) if {
	is_number(n)
	n >= 1
	n == round(n)
}
