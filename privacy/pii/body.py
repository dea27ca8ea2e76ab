"""Where the text is in OpenAI-shaped request and response bodies.

``collect(obj, route, part)`` returns references to every string the PII
engine must see, in a stable order, so the same walk over a copy of the
original body finds the same strings (the policy's ``enforce`` re-redacts
that way). Tool-call arguments are JSON strings: their string values are
referenced inside the parsed object and the argument string is re-serialised
after rewriting; arguments that are not valid JSON are treated as one text.
Token-id prompts (lists of ints) cannot be screened and are refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Unscreenable(ValueError):
    """The body holds content the engine cannot read (token ids): refuse rather than pass it."""


@dataclass(slots=True)
class Ref:
    container: Any
    key: Any

    def get(self) -> str:
        return self.container[self.key]

    def set(self, value: str) -> None:
        self.container[self.key] = value


@dataclass
class Texts:
    refs: list[Ref] = field(default_factory=list)
    finalizers: list[Callable[[], None]] = field(default_factory=list)

    def texts(self) -> list[str]:
        return [r.get() for r in self.refs]

    def write(self, values: list[str]) -> None:
        for r, v in zip(self.refs, values, strict=True):
            r.set(v)
        for fin in self.finalizers:
            fin()


def _add_str(out: Texts, container: Any, key: Any) -> None:
    if isinstance(container[key], str) and container[key]:
        out.refs.append(Ref(container, key))


def _walk_json(out: Texts, node: Any) -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        if isinstance(v, str):
            _add_str(out, node, k)
        elif isinstance(v, dict | list):
            _walk_json(out, v)


def _add_json_args(out: Texts, container: Any, key: Any) -> None:
    raw = container.get(key) if isinstance(container, dict) else None
    if not isinstance(raw, str) or not raw:
        return
    try:
        parsed = json.loads(raw)
    except ValueError:
        out.refs.append(Ref(container, key))  # not JSON: screen it as text
        return
    if not isinstance(parsed, dict | list):
        out.refs.append(Ref(container, key))
        return
    _walk_json(out, parsed)
    out.finalizers.append(lambda: container.__setitem__(key, json.dumps(parsed, ensure_ascii=False)))


def _message(out: Texts, msg: Any) -> None:
    if not isinstance(msg, dict):
        return
    content = msg.get("content")
    if isinstance(content, str):
        _add_str(out, msg, "content")
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                _add_str(out, part, "text")
            elif isinstance(part, str):
                _add_str(out, content, content.index(part))
    for call in msg.get("tool_calls") or []:
        if isinstance(call, dict) and isinstance(call.get("function"), dict):
            _add_json_args(out, call["function"], "arguments")
    if isinstance(msg.get("function_call"), dict):
        _add_json_args(out, msg["function_call"], "arguments")


def _string_or_list(out: Texts, body: dict[str, Any], key: str) -> None:
    value = body.get(key)
    if isinstance(value, str):
        _add_str(out, body, key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                _add_str(out, value, i)
            elif isinstance(item, int | list):
                raise Unscreenable(f"'{key}' holds token ids, which cannot be screened for personal data; send text")


def request_texts(body: dict[str, Any], route: str) -> Texts:
    out = Texts()
    if route == "chat":
        for msg in body.get("messages") or []:
            _message(out, msg)
    elif route == "completions":
        _string_or_list(out, body, "prompt")
        if isinstance(body.get("suffix"), str):
            _add_str(out, body, "suffix")
    elif route == "embeddings":
        _string_or_list(out, body, "input")
    return out


def response_texts(response: dict[str, Any]) -> Texts:
    out = Texts()
    for choice in response.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        if isinstance(choice.get("message"), dict):
            _message(out, choice["message"])
        if isinstance(choice.get("text"), str):
            _add_str(out, choice, "text")
    return out
