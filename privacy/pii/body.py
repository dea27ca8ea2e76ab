"""Where the text is in OpenAI-shaped request and response bodies.

``request_texts(body, route)`` returns references to every string of a request
that the PII engine must see, in a stable order, so the same walk over a copy
of the original body finds the same strings (the policy's ``enforce``
re-redacts that way). Every string that leaves for the model server is
screened, whatever field it sits in; fields are read by their meaning:

- free text (content, ``name``, descriptions, ``stop``, ``user``, ``metadata``,
  JSON schemas, any field not listed below): every string value *and every
  object key* is screened; renamed keys keep their order;
- tool-call arguments are JSON strings: the values and keys inside are
  screened and the string is re-serialised (still valid JSON); arguments that
  are not JSON are screened as one text;
- URLs (``image_url``...): user info, path, query and fragment are screened
  after percent-decoding; scheme and host are kept (the host too is screened
  when there is user info, so ``https://alice@example.com`` cannot smuggle an
  address). ``data:`` URLs of binary images are left as images and counted;
  other data URLs (text, SVG) cannot be screened and are refused;
- the same for base64 audio (``input_audio.data``); file uploads are refused;
- closed vocabularies (``role``, ``type``, ``detail``...) are skipped when
  they hold one of their values, screened like text otherwise;
- ``model`` is the routing key and is left to the caller (the gateway screens
  a model name that no upstream lists, and refuses it if it holds PII);
- token-id prompts (lists of ints) cannot be screened and are refused.

Fields the walk does not know follow ``unknown``: ``"screen"`` (as free text)
or ``"reject"`` (``UnknownField`` naming the field's path, never its value).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, unquote_plus, urlencode, urlsplit, urlunsplit

MAX_DEPTH = 128  # nesting the walk follows (bodies are depth-limited before; tool arguments are not)
SHORT_BLOB = 256  # base64 shorter than this is screened as text as well: no real image or audio is that small
_SAFE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}")
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_SEGMENT_SAFE = ":@!$&'()*+,;=-._~"


class Unscreenable(ValueError):
    """The body holds content the engine cannot read (token ids, files, text as images): refuse it."""


class UnknownField(ValueError):
    """A field the walk does not know, with ``pii.unknown_fields: reject``; ``path`` never holds values."""

    def __init__(self, path: str) -> None:
        super().__init__(f"unknown field '{path}': this gateway does not forward fields it does not know")
        self.path = path


@dataclass(slots=True)
class Ref:
    container: Any
    key: Any

    def get(self) -> str:
        return self.container[self.key]

    def set(self, value: str) -> None:
        self.container[self.key] = value


@dataclass(slots=True)
class KeyRef:
    """An object key; the new name is applied by the object's finalizer (order kept)."""

    renames: dict[str, str]
    key: str

    def get(self) -> str:
        return self.key

    def set(self, value: str) -> None:
        if value != self.key:
            self.renames[self.key] = value


@dataclass
class Texts:
    refs: list[Ref | KeyRef] = field(default_factory=list)
    finalizers: list[Callable[[], None]] = field(default_factory=list)
    # Media left as they are (binary images, audio): kind -> count, for the audit record.
    media: Counter[str] = field(default_factory=Counter)

    def texts(self) -> list[str]:
        return [r.get() for r in self.refs]

    def write(self, values: list[str]) -> None:
        for r, v in zip(self.refs, values, strict=True):
            r.set(v)
        for fin in self.finalizers:
            fin()


# --- the walk -------------------------------------------------------------------------------

Path = tuple[Any, ...]  # keys from the body down; formatted only for an error message
Spec = Callable[["_Walk", Any, Any, Path, int], None]


class _Walk:
    def __init__(self, unknown: str) -> None:
        self.out = Texts()
        self.reject = unknown == "reject"

    def text(self, container: Any, key: Any) -> None:
        if container[key]:
            self.out.refs.append(Ref(container, key))


def _deep(depth: int) -> None:
    if depth > MAX_DEPTH:
        raise Unscreenable(f"the request nests deeper than {MAX_DEPTH} levels and cannot be screened")


def _fmt(path: Path) -> str:
    """``messages[0].content[1].x``; a key that is not a plain identifier is shown as ``<key>``."""
    out = ""
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            shown = key if isinstance(key, str) and _SAFE_KEY.fullmatch(key) else "<key>"
            out += f".{shown}" if out else shown
    return out


def _any(w: _Walk, c: Any, k: Any, path: Path, depth: int) -> None:
    """Free text: every string value and every object key below c[k]."""
    v = c[k]
    if isinstance(v, str):
        w.text(c, k)
    elif isinstance(v, dict):
        _deep(depth)
        renames: dict[str, str] = {}
        for key in v:
            if key:
                w.out.refs.append(KeyRef(renames, key))
            _any(w, v, key, path, depth + 1)
        w.out.finalizers.append(lambda: _rename_keys(v, renames, path))
    elif isinstance(v, list):
        _deep(depth)
        for i in range(len(v)):
            _any(w, v, i, path, depth + 1)


def _rename_keys(d: dict[str, Any], renames: dict[str, str], path: Path) -> None:
    if not renames:
        return
    items = list(d.items())
    d.clear()
    for key, value in items:
        new = renames.get(key, key)
        if new in d:
            raise Unscreenable(
                f"two keys of '{_fmt(path) or 'the body'}' are the same once redacted; rename them"
            )
        d[new] = value


def _skip(w: _Walk, c: Any, k: Any, path: Path, depth: int) -> None:
    return None


def _enum(*values: str) -> Spec:
    known = frozenset(values)

    def spec(w: _Walk, c: Any, k: Any, path: Path, depth: int) -> None:
        v = c[k]
        if not (isinstance(v, str) and v in known):
            _any(w, c, k, path, depth)

    return spec


def _obj(fields: dict[str, Spec]) -> Spec:
    def spec(w: _Walk, c: Any, k: Any, path: Path, depth: int) -> None:
        v = c[k]
        if not isinstance(v, dict):
            _any(w, c, k, path, depth)
            return
        _deep(depth)
        renames: dict[str, str] | None = None
        for key in v:
            sub = (*path, key)
            f = fields.get(key)
            if f is not None:
                f(w, v, key, sub, depth + 1)
                continue
            if w.reject:
                raise UnknownField(_fmt(sub))
            if renames is None:
                renames = {}
            if key:
                w.out.refs.append(KeyRef(renames, key))
            _any(w, v, key, sub, depth + 1)
        if renames is not None:
            w.out.finalizers.append(lambda: _rename_keys(v, renames, path))

    return spec


def _list(item: Spec) -> Spec:
    def spec(w: _Walk, c: Any, k: Any, path: Path, depth: int) -> None:
        v = c[k]
        if not isinstance(v, list):
            _any(w, c, k, path, depth)
            return
        _deep(depth)
        for i in range(len(v)):
            item(w, v, i, (*path, i), depth + 1)

    return spec


def _args(w: _Walk, c: Any, k: Any, path: Path, depth: int) -> None:
    """Tool-call arguments: a JSON string; screen inside it and re-serialise."""
    raw = c[k]
    if not isinstance(raw, str):
        _any(w, c, k, path, depth)
        return
    if not raw:
        return
    try:
        parsed = json.loads(raw)
    except ValueError:
        w.text(c, k)  # not JSON: screen it as text
        return
    except RecursionError:
        raise Unscreenable(f"'{_fmt(path)}' nests too deeply to be screened") from None
    if not isinstance(parsed, dict | list | str):
        w.text(c, k)  # a number, true, null: as text (the engine sees what the model will)
        return
    holder = [parsed]
    _any(w, holder, 0, path, depth + 1)
    w.out.finalizers.append(lambda: c.__setitem__(k, json.dumps(holder[0], ensure_ascii=False)))


def _unquote_all(s: str, plus: bool = False) -> str:
    """Percent-decoding until stable: ``%2540`` must not hide an ``@`` from the engine."""
    for _ in range(4):
        d = unquote_plus(s) if plus else unquote(s)
        if d == s:
            break
        s, plus = d, False
    return s


def _is_binary_base64(payload: str) -> bool:
    try:
        data = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True  # images and audio are not UTF-8; text smuggled as base64 is
    return False


def _blob(kind: str) -> Spec:
    """Base64 media (audio): left as it is and counted; text posing as media is refused."""

    def spec(w: _Walk, c: Any, k: Any, path: Path, depth: int) -> None:
        v = c[k]
        if not isinstance(v, str):
            _any(w, c, k, path, depth)
            return
        if len(v) < SHORT_BLOB:
            w.text(c, k)
        elif not _is_binary_base64(v):
            raise Unscreenable(f"'{_fmt(path)}' is not binary base64 {kind}; text cannot be sent as {kind}")
        w.out.media[kind] += 1

    return spec


def _refuse(what: str) -> Spec:
    def spec(w: _Walk, c: Any, k: Any, path: Path, depth: int) -> None:
        if c[k]:
            raise Unscreenable(
                f"'{_fmt(path)}': {what} cannot be screened for personal data and is not forwarded"
            )

    return spec


def _url(w: _Walk, c: Any, k: Any, path: Path, depth: int) -> None:
    v = c[k]
    if not isinstance(v, str):
        _any(w, c, k, path, depth)
        return
    if v[:5].lower() == "data:":
        _data_url(w, c, k, path)
        return
    try:
        parts = urlsplit(v)
        query = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        w.text(c, k)  # not a URL we can take apart: screen it whole
        return
    netloc = parts.netloc
    # [netloc or user info, fragment, path segment..., query key, query value, ...]: decoded, screened
    # (each segment on its own: a value touching "/" is one the recognizers may not see), re-encoded
    # only when something changed, so a clean URL goes out byte for byte.
    has_user = "@" in netloc
    segments = parts.path.split("/")
    texts = [_unquote_all(netloc) if has_user else "", _unquote_all(parts.fragment)]
    texts += [_unquote_all(seg) for seg in segments]
    for qk, qv in query:
        texts += [_unquote_all(qk), _unquote_all(qv)]
    original = list(texts)
    for i, t in enumerate(texts):
        if t:
            w.out.refs.append(Ref(texts, i))

    def rebuild() -> None:
        if texts == original:
            return
        n = 2 + len(segments)
        new_netloc = quote(texts[0], safe="@:[]") if has_user else netloc
        frag = quote(texts[1], safe=_PATH_SAFE) if texts[1] != original[1] else parts.fragment
        new_path = "/".join(
            quote(t, safe=_SEGMENT_SAFE) if t != o else seg
            for t, o, seg in zip(texts[2:n], original[2:n], segments, strict=True)
        )
        q = parts.query
        if texts[n:] != original[n:]:
            pairs = list(zip(texts[n::2], texts[n + 1 :: 2], strict=True))
            q = urlencode(pairs, quote_via=quote, safe="")
        c[k] = urlunsplit((parts.scheme, new_netloc, new_path, q, frag))

    w.out.finalizers.append(rebuild)


def _data_url(w: _Walk, c: Any, k: Any, path: Path) -> None:
    v = c[k]
    head, comma, payload = v.partition(",")
    params = head[5:].lower().split(";")
    mediatype = params[0].strip()
    if (
        comma
        and mediatype.startswith("image/")
        and mediatype != "image/svg+xml"
        and "base64" in params
        and (len(payload) < SHORT_BLOB or _is_binary_base64(payload))
    ):
        if len(payload) < SHORT_BLOB:  # too small to be a picture: the engine reads it too
            holder = [payload]
            if payload:
                w.out.refs.append(Ref(holder, 0))
            w.out.finalizers.append(lambda: c.__setitem__(k, head + "," + holder[0]))
        w.out.media["image"] += 1
        return
    raise Unscreenable(
        f"'{_fmt(path)}' is a data URL that is not a binary image (PNG, JPEG, GIF, WebP); "
        "its content cannot be screened for personal data"
    )


_SCHEMA_KEYWORDS = frozenset(
    (
        "type properties required items prefixItems additionalProperties patternProperties description title enum const "
        "default examples anyOf oneOf allOf not $ref $defs definitions $schema $id format minimum maximum "
        "exclusiveMinimum exclusiveMaximum multipleOf minLength maxLength pattern minItems maxItems uniqueItems "
        "minProperties maxProperties propertyNames dependentRequired nullable strict"
    ).split()
)
_JSON_TYPES = frozenset(("object", "string", "number", "integer", "boolean", "array", "null"))
_SUBSCHEMA = frozenset(("items", "not", "additionalProperties", "propertyNames"))
_SCHEMA_LISTS = frozenset(("anyOf", "oneOf", "allOf", "prefixItems"))
_SCHEMA_MAPS = frozenset(("properties", "patternProperties", "$defs", "definitions"))


def _schema(w: _Walk, c: Any, k: Any, path: Path, depth: int) -> None:
    """A JSON schema: property names, descriptions, titles, enums, defaults... are screened; its own
    keywords and type names are not (a tool-using request carries dozens of them)."""
    v = c[k]
    if not isinstance(v, dict):
        _any(w, c, k, path, depth)
        return
    _deep(depth)
    renames: dict[str, str] = {}
    own_keys = False
    for key, val in v.items():
        if key not in _SCHEMA_KEYWORDS and key:
            w.out.refs.append(KeyRef(renames, key))
            own_keys = True
        if key == "type" and (
            val in _JSON_TYPES
            if isinstance(val, str)
            else isinstance(val, list) and all(isinstance(t, str) and t in _JSON_TYPES for t in val)
        ):
            continue
        if key in _SCHEMA_MAPS and isinstance(val, dict):
            _deep(depth + 1)
            names: dict[str, str] = {}
            for name in val:
                if name:
                    w.out.refs.append(KeyRef(names, name))
                _schema(w, val, name, path, depth + 2)
            w.out.finalizers.append(lambda d=val, r=names: _rename_keys(d, r, path))
        elif key in _SUBSCHEMA and isinstance(val, dict):
            _schema(w, v, key, path, depth + 1)
        elif key in _SCHEMA_LISTS and isinstance(val, list):
            _deep(depth + 1)
            for i in range(len(val)):
                _schema(w, val, i, path, depth + 2)
        else:
            _any(w, v, key, path, depth + 1)
    if own_keys:
        w.out.finalizers.append(lambda: _rename_keys(v, renames, path))


def _content(part: Spec) -> Spec:
    def spec(w: _Walk, c: Any, k: Any, path: Path, depth: int) -> None:
        v = c[k]
        if isinstance(v, list):
            _deep(depth)
            for i, p in enumerate(v):
                (part if isinstance(p, dict) else _any)(w, v, i, (*path, i), depth + 1)
        else:
            _any(w, c, k, path, depth)

    return spec


def _prompt(w: _Walk, c: Any, k: Any, path: Path, depth: int) -> None:
    v = c[k]
    if isinstance(v, list) and any(isinstance(x, int | list) for x in v):
        raise Unscreenable(f"'{k}' holds token ids, which cannot be screened for personal data; send text")
    _any(w, c, k, path, depth)


# --- what the fields mean ---------------------------------------------------------------------

ANY = _any
_URL_OBJ = _obj({"url": _url, "detail": _enum("auto", "low", "high")})


def _url_or_obj(w: _Walk, c: Any, k: Any, path: Path, depth: int) -> None:
    (_url if isinstance(c[k], str) else _URL_OBJ)(w, c, k, path, depth)


_PART = _obj(
    {
        "type": _enum("text", "image_url", "input_audio", "file", "refusal", "video_url", "audio_url"),
        "text": ANY,
        "refusal": ANY,
        "image_url": _url_or_obj,
        "video_url": _url_or_obj,
        "audio_url": _url_or_obj,
        "input_audio": _obj({"data": _blob("audio"), "format": _enum("wav", "mp3", "flac", "ogg", "pcm16")}),
        "file": _obj({"file_data": _refuse("file uploads"), "file_id": ANY, "filename": ANY}),
        "cache_control": ANY,
    }
)
_FUNCTION_CALL = _obj({"name": ANY, "arguments": _args})
_TOOL_CALL = _obj(
    {
        "id": ANY,
        "type": _enum("function", "custom"),
        "index": ANY,
        "function": _FUNCTION_CALL,
        "custom": _obj({"name": ANY, "input": ANY}),
    }
)
_MESSAGE = _obj(
    {
        "role": _enum("system", "developer", "user", "assistant", "tool", "function"),
        "content": _content(_PART),
        "name": ANY,
        "tool_calls": _list(_TOOL_CALL),
        "tool_call_id": ANY,
        "function_call": _FUNCTION_CALL,
        "refusal": ANY,
        "audio": ANY,
        "reasoning_content": ANY,
        "reasoning": ANY,
        "prefix": ANY,
    }
)
_FUNCTION_DEF = _obj({"name": ANY, "description": ANY, "parameters": _schema, "strict": ANY})
_TOOL = _obj({"type": _enum("function", "custom"), "function": _FUNCTION_DEF, "custom": ANY})
_RESPONSE_FORMAT = _obj(
    {
        "type": _enum("text", "json_object", "json_schema"),
        "json_schema": _obj({"name": ANY, "description": ANY, "schema": _schema, "strict": ANY}),
        "schema": _schema,
    }
)

# Sampling and serving parameters (OpenAI, vLLM, TGI): numbers and flags, screened if they hold text.
_PARAMS = (
    "stream stream_options max_tokens max_completion_tokens temperature top_p n presence_penalty "
    "frequency_penalty logit_bias logprobs top_logprobs seed store service_tier "
    "top_k min_p repetition_penalty length_penalty stop_token_ids ignore_eos min_tokens skip_special_tokens "
    "spaces_between_special_tokens include_stop_str_in_output truncate_prompt_tokens priority request_id "
    "guided_json guided_regex guided_choice guided_grammar guided_decoding_backend guided_whitespace_pattern "
    "structured_outputs best_of use_beam_search prompt_logprobs allowed_token_ids bad_words "
    "return_tokens_as_token_ids add_special_tokens cache_salt typical_p top_n_tokens watermark do_sample "
    "details decoder_input_details grammar"
).split()
_COMMON: dict[str, Spec] = {
    **dict.fromkeys(_PARAMS, ANY),
    "model": _skip,
    "stop": ANY,
    "user": ANY,
    "metadata": ANY,
}
ROUTES: dict[str, Spec] = {
    "chat": _obj(
        {
            **_COMMON,
            "messages": _list(_MESSAGE),
            "tools": _list(_TOOL),
            "tool_choice": ANY,
            "parallel_tool_calls": ANY,
            "functions": _list(_FUNCTION_DEF),
            "function_call": ANY,
            "response_format": _RESPONSE_FORMAT,
            "modalities": ANY,
            "audio": ANY,
            "prediction": ANY,
            "reasoning_effort": _enum("minimal", "low", "medium", "high"),
            "verbosity": _enum("low", "medium", "high"),
            "web_search_options": ANY,
            "prompt_cache_key": ANY,
            "safety_identifier": ANY,
            "echo": ANY,
            "add_generation_prompt": ANY,
            "continue_final_message": ANY,
            "documents": ANY,
            "chat_template": ANY,
            "chat_template_kwargs": ANY,
            "mm_processor_kwargs": ANY,
        }
    ),
    "completions": _obj(
        {**_COMMON, "prompt": _prompt, "suffix": ANY, "echo": ANY, "response_format": _RESPONSE_FORMAT}
    ),
    "embeddings": _obj(
        {
            "model": _skip,
            "input": _prompt,
            "encoding_format": _enum("float", "base64"),
            "dimensions": ANY,
            "user": ANY,
            "truncate_prompt_tokens": ANY,
            "priority": ANY,
            "add_special_tokens": ANY,
            "additional_data": ANY,
        }
    ),
}


def request_texts(body: dict[str, Any], route: str, unknown: str = "screen") -> Texts:
    """Every string of ``body`` that leaves for the model server (see the module docstring)."""
    w = _Walk(unknown)
    spec = ROUTES.get(route)
    if spec is not None:
        spec(w, [body], 0, (), 0)
    return w.out


# --- responses: what the model wrote, for restoring pseudonyms and redacting its PII -----------


def _response_message(out: Texts, msg: Any) -> None:
    if not isinstance(msg, dict):
        return
    content = msg.get("content")
    if isinstance(content, str):
        if content:
            out.refs.append(Ref(msg, "content"))
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str) and part["text"]:
                out.refs.append(Ref(part, "text"))
    for key in ("refusal", "reasoning_content", "reasoning"):
        if isinstance(msg.get(key), str) and msg[key]:
            out.refs.append(Ref(msg, key))
    w = _Walk("screen")
    w.out = out
    for call in msg.get("tool_calls") or []:
        if (
            isinstance(call, dict)
            and isinstance(call.get("function"), dict)
            and "arguments" in call["function"]
        ):
            _args(w, call["function"], "arguments", ("arguments",), 0)
    if isinstance(msg.get("function_call"), dict) and "arguments" in msg["function_call"]:
        _args(w, msg["function_call"], "arguments", ("arguments",), 0)


def response_texts(response: dict[str, Any]) -> Texts:
    out = Texts()
    for choice in response.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        if isinstance(choice.get("message"), dict):
            _response_message(out, choice["message"])
        if isinstance(choice.get("text"), str) and choice["text"]:
            out.refs.append(Ref(choice, "text"))
    return out
