"""Parsing and checking OpenAI request bodies: done once, before the chain.

Checks are hand-written rather than pydantic models because they run on every
request and need only the handful of fields the gateway acts on; the upstream
validates the rest. Error messages never echo request content.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.chain.errors import BadRequest, UnsupportedMediaType

DEFAULT_MAX_DEPTH = 64


def check_body_headers(headers: dict[str, str]) -> None:
    """A JSON body, not encoded: anything else is refused (415) rather than forwarded unscreened.

    A missing content-type is read as JSON (many clients omit it); a content-encoding other than
    ``identity`` (gzip, br...) would hide the text from every check, so it is refused.
    """
    ctype = headers.get("content-type")
    if ctype is not None:
        media = ctype.split(";", 1)[0].strip().lower()
        if media and media != "application/json" and not media.endswith("+json"):
            raise UnsupportedMediaType("the request body must be JSON (content-type: application/json)")
    enc = headers.get("content-encoding")
    if enc is not None and enc.strip().lower() not in ("", "identity"):
        raise UnsupportedMediaType("encoded request bodies are not accepted; send plain JSON")


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """True if containers nest deeper than ``limit`` (the top-level object is depth 1); iterative."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        v, d = pop()
        if d > limit:
            return True
        if isinstance(v, dict):
            for x in v.values():
                if isinstance(x, (dict, list)):
                    push((x, d + 1))
        else:
            for x in v:
                if isinstance(x, (dict, list)):
                    push((x, d + 1))
    return False


def too_deep(raw: bytes, value: Any, limit: int) -> bool:
    # Fewer brackets in the whole body than the limit: cannot be too deep (the common case).
    if raw.count(b"{") + raw.count(b"[") <= limit:
        return False
    return json_depth_exceeds(value, limit)


def parse_json_object(raw: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> dict[str, Any]:
    """Parse a request body: a JSON object nested at most ``max_depth`` levels, or 400."""
    if not raw:
        raise BadRequest("the request body is empty; expected a JSON object", code="invalid_json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # orjson's message gives a position, never the content (and its own recursion limit, 1024
        # levels, lands here too).
        raise BadRequest(
            f"the request body is not valid JSON ({exc.args[0] if exc.args else 'parse error'})",
            code="invalid_json",
        ) from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object", code="invalid_json")
    if too_deep(raw, body, max_depth):
        raise BadRequest(f"the request body nests deeper than {max_depth} levels", code="json_too_deep")
    return body


def _field_error(name: str, expected: str) -> BadRequest:
    return BadRequest(f"'{name}' must be {expected}", code="invalid_type")


def _check_common(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _field_error("model", "a non-empty string")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _field_error("stream", "a boolean")
    for key in ("max_tokens", "max_completion_tokens"):
        v = body.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise _field_error(key, "a positive integer")
    return model


def _text_inputs(value: Any, name: str) -> int:
    """Strings or lists of strings only: token-id prompts would bypass PII redaction."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return sum(len(v) for v in value)
    if isinstance(value, list) and value and all(isinstance(v, (int, list)) for v in value):
        raise BadRequest(
            f"'{name}' as token ids is not accepted: the gateway must see text to check it",
            code="unsupported_input",
        )
    raise _field_error(name, "a string or a non-empty list of strings")


def _content_chars(content: Any, i: int) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        n = 0
        for part in content:
            if not isinstance(part, dict):
                raise _field_error(f"messages[{i}].content[]", "an object")
            text = part.get("text")
            if isinstance(text, str):
                n += len(text)
        return n
    raise _field_error(f"messages[{i}].content", "a string, a list of content parts or null")


def check_chat(body: dict[str, Any]) -> tuple[str, int]:
    """Returns (model, prompt token estimate)."""
    model = _check_common(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _field_error("messages", "a non-empty list")
    chars = 0
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise _field_error(f"messages[{i}]", "an object")
        if not isinstance(m.get("role"), str):
            raise _field_error(f"messages[{i}].role", "a string")
        chars += _content_chars(m.get("content"), i)
        calls = m.get("tool_calls")
        if calls is not None:
            if not isinstance(calls, list):
                raise _field_error(f"messages[{i}].tool_calls", "a list")
            for c in calls:
                fn = c.get("function") if isinstance(c, dict) else None
                args = fn.get("arguments") if isinstance(fn, dict) else None
                if isinstance(args, str):
                    chars += len(args)
    return model, chars // 4 + 4 * len(messages)


def check_completions(body: dict[str, Any]) -> tuple[str, int]:
    model = _check_common(body)
    return model, _text_inputs(body.get("prompt"), "prompt") // 4 + 1


def check_embeddings(body: dict[str, Any]) -> tuple[str, int]:
    model = _check_common(body)
    return model, _text_inputs(body.get("input"), "input") // 4 + 1


CHECKS = {"chat": check_chat, "completions": check_completions, "embeddings": check_embeddings}
