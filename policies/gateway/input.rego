# Input validation: an input of the wrong shape is denied with a reason that
# names the field, never evaluated into an accidental allow. The gateway builds
# the input from the request context (never raw message text); these rules also
# protect the OPA-server mode, where any client could send any JSON.
package gateway.authz

deny_reasons contains "input must be an object" if not is_object(input)

deny_reasons contains "input.subject must be a string or null" if not _string_or_null(input.subject)

deny_reasons contains "input.tenant must be a string or null" if not _string_or_null(input.tenant)

deny_reasons contains "input.route must be a string" if not is_string(input.route)

deny_reasons contains "input.model must be a string or null" if not _string_or_null(input.model)

deny_reasons contains "input.roles must be an array of strings" if not _string_array(input.roles)

deny_reasons contains "input.claims must be an object" if {
	"claims" in _input_keys
	not is_object(input.claims)
}

deny_reasons contains "input.request must be an object" if {
	"request" in _input_keys
	not is_object(input.request)
}

deny_reasons contains "input.pii must map entity types to non-negative counts" if {
	"pii" in _input_keys
	not _counts(input.pii)
}

deny_reasons contains "input.upstream.labels must be an object of strings" if {
	"upstream" in _input_keys
	not is_null(input.upstream)
	not _string_map(object.get(input.upstream, "labels", {}))
}

deny_reasons contains "input.time must be a number (unix seconds)" if {
	"time" in _input_keys
	not is_number(input.time)
}

deny_reasons contains "request.max_tokens must be a positive integer" if {
	mt := object.get(request, "max_tokens", null)
	not is_null(mt)
	not _positive_int(mt)
}

deny_reasons contains "request.prompt_tokens_estimate must be a non-negative number" if {
	n := object.get(request, "prompt_tokens_estimate", 0)
	not _non_negative(n)
}

_input_keys := object.keys(input) if is_object(input)
else := set()

# Normalised views of the input that the other rules read: always defined.
request := input.request if is_object(input.request)
else := {}

claims := input.claims if is_object(input.claims)
else := {}

pii := input.pii if _counts(input.pii)
else := {}

upstream_name := input.upstream.name if is_string(input.upstream.name)
else := "(none)"

upstream_labels := input.upstream.labels if _string_map(input.upstream.labels)
else := {}

# The decision time: the gateway sends it so that a decision can be replayed.
now := input.time if is_number(input.time)
else := time.now_ns() / 1000000000

_string_or_null(x) if is_string(x)

_string_or_null(x) if is_null(x)

_string_array(xs) if {
	is_array(xs)
	every x in xs {
		is_string(x)
	}
}

_string_map(m) if {
	is_object(m)
	every v in m {
		is_string(v)
	}
}

_counts(m) if {
	is_object(m)
	every v in m {
		_non_negative(v)
	}
}

_non_negative(n) if {
	is_number(n)
	n >= 0
}

_positive_int(n) if {
	is_number(n)
	n >= 1
	n == round(n)
}
