"""The wire format of LiteLLM's Generic Guardrail API, as LiteLLM 1.108 sends and reads it.

In (``GenericGuardrailAPIRequest`` in litellm/types/proxy/guardrails/guardrail_hooks/
generic_guardrail_api.py): ``input_type`` (request | response), ``texts``,
``structured_messages``, ``tools``, ``tool_calls``, ``images``, ``model``, ``litellm_call_id``,
``litellm_trace_id``, ``request_data`` (the caller's key, team and user), ``request_headers``,
``litellm_version``, ``additional_provider_specific_params``.

Out (``GenericGuardrailAPIResponse.from_dict``): ``action`` (NONE | BLOCKED |
GUARDRAIL_INTERVENED), ``texts``, ``blocked_reason``; optionally ``structured_messages``
(rows written back over the request's messages) and ``stream_holdback_chars``.

Validation is strict (no coercion): a malformed call is a 400, never a silent NONE. Error
messages name the field and never quote its value.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from gateway.chain.errors import BadRequest
from gateway.chain.requests import json_depth_exceeds

Action = Literal["NONE", "BLOCKED", "GUARDRAIL_INTERVENED"]


class GuardrailCall(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    input_type: Literal["request", "response"]
    texts: list[str]
    structured_messages: list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    images: list[str] | None = None
    model: str | None = None
    litellm_call_id: str | None = None
    litellm_trace_id: str | None = None
    request_data: dict[str, Any] | None = None


def parse_call(raw: bytes, max_depth: int = 64) -> GuardrailCall:
    """The request body -> a validated call, or BadRequest (400) naming the field."""
    if not raw:
        raise BadRequest("the request body is empty; expected a JSON object", code="invalid_json")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("the request body is not valid JSON", code="invalid_json") from None
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object", code="invalid_json")
    if json_depth_exceeds(data, max_depth):
        raise BadRequest(f"the request body is nested deeper than {max_depth} levels", code="invalid_json")
    try:
        return GuardrailCall.model_validate(data)
    except ValidationError as exc:
        parts = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(p) for p in err["loc"]) or "body"
            parts.append(f"'{loc}': {_describe(err)}")
        raise BadRequest(
            "invalid guardrail request: " + "; ".join(parts), code="invalid_guardrail_request"
        ) from None


_EXPECTED = {
    "list_type": "a list",
    "string_type": "a string",
    "dict_type": "an object",
    "bool_type": "a boolean",
    "model_type": "an object",
}


def _describe(err: Any) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return "is required"
    if kind == "literal_error":
        loc = err["loc"]
        return (
            "must be 'request' or 'response'" if loc and loc[0] == "input_type" else "has an unexpected value"
        )
    if kind in _EXPECTED:
        return f"must be {_EXPECTED[kind]}"
    return "is invalid"


def answer(
    action: Action, texts: list[str] | None = None, blocked_reason: str | None = None, **extra: Any
) -> bytes:
    out: dict[str, Any] = {"action": action, "texts": texts, "blocked_reason": blocked_reason}
    out.update({k: v for k, v in extra.items() if v is not None})
    return orjson.dumps(out)
