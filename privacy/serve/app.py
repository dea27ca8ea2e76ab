"""Presidio's REST API served by our PII engine, as one plain ASGI application.

Routes (the request and response JSON of presidio-analyzer's and presidio-anonymizer's
Flask servers, so a client switches by changing one URL):

    POST /analyze            {text: str | [str], language, entities?, score_threshold?,
                              allow_list?, allow_list_match?, ad_hoc_recognizers?, ...}
                             -> [{entity_type, start, end, score, analysis_explanation}]
                                (a list of such lists when ``text`` is a list)
    POST /anonymize          {text, analyzer_results, anonymizers?}  -> {text, items}
                             (presidio-anonymizer's own engine: identical operators)
    GET  /health             200
    GET  /supportedentities  ?language=en -> [entity types]
    GET  /recognizers        ?language=en -> [recognizer names]
    GET  /anonymizers        -> [operator names]

Errors are ``{"error": message}`` with Presidio's messages. Where Presidio's analyzer answers
an unknown language or entity with 500 (its catch-all), we answer 400: the request is wrong,
not the server. Texts never reach a log or an error message.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import orjson

from privacy.pii.engine import PIIEngine, TextTooLarge
from privacy.pii.settings import ALL_ENTITIES, PIISettings, TenantSettings

log = logging.getLogger("privacy.serve")

# Our recognizers are patterns and rules that do not depend on the language of the text around
# them (plus English NER and the Chinese surname rule for names).
SUPPORTED_LANGUAGES = ("en", "zh")
NO_RECOGNIZERS = "No matching recognizers were found to serve the request."
HEALTH_TEXT = b"Presidio Analyzer service is up"
NOT_FOUND = (
    "The requested URL was not found on the server. If you entered the URL manually "
    "please check your spelling and try again."
)
NOT_ALLOWED = "The method is not allowed for the requested URL."
PATTERNS_TENANT = "__patterns__"  # a profile without NER, for requests that do not ask for PERSON
JSON = b"application/json"


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _parse_error(detail: str) -> ApiError:
    return ApiError(400, f"Failed to parse /analyze request for AnalyzerEngine.analyze(). {detail}")


class PresidioApp:
    """ASGI app; ``startup()`` loads the engine (lifespan does it under uvicorn)."""

    def __init__(
        self,
        settings: PIISettings | None = None,
        *,
        tenant: str | None = None,
        max_body_bytes: int = 8 * 1_048_576,
    ) -> None:
        s = settings or PIISettings()
        # Whose allow/deny lists apply (the pii settings' tenants); None: the defaults.
        self.tenant = tenant if tenant and tenant in s.tenants else None
        # One extra profile without NER: a request whose entities leave out PERSON skips the model.
        tenants = dict(s.tenants)
        tenants.setdefault(PATTERNS_TENANT, TenantSettings(pattern_only=True))
        self.settings = s.model_copy(update={"tenants": tenants})
        self.engine = PIIEngine(self.settings)
        self.entities: tuple[str, ...] = tuple(e for e in ALL_ENTITIES if e in s.entities)
        self.max_body = max_body_bytes
        self._anonymizer: Any = None
        self._convertor: Any = None
        self._invalid_param: type[Exception] = Exception
        self.routes = {
            "/analyze": ("POST", self.analyze),
            "/anonymize": ("POST", self.anonymize),
            "/health": ("GET", self.health),
            "/supportedentities": ("GET", self.supported_entities),
            "/recognizers": ("GET", self.recognizers),
            "/anonymizers": ("GET", self.anonymizers),
        }

    def startup(self, nlp: Any = None) -> None:
        from presidio_anonymizer import AnonymizerEngine
        from presidio_anonymizer.entities import InvalidParamError
        from presidio_anonymizer.services.app_entities_convertor import AppEntitiesConvertor

        self.engine.start(nlp)
        self._anonymizer = AnonymizerEngine()
        self._convertor = AppEntitiesConvertor
        self._invalid_param = InvalidParamError

    # -- ASGI --------------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        route = self.routes.get(scope["path"].rstrip("/") or "/")
        try:
            if route is None:
                raise ApiError(404, NOT_FOUND)
            method, handler = route
            if scope["method"] != method and not (method == "GET" and scope["method"] == "HEAD"):
                raise ApiError(405, NOT_ALLOWED)
            if method == "POST":
                body = await self._read_json(receive)
                status, out, ctype = 200, await handler(body), JSON
            else:
                status, out, ctype = await handler(_query(scope))
        except ApiError as exc:
            status, out, ctype = exc.status, orjson.dumps({"error": exc.message}), JSON
        except Exception as exc:  # never echo the exception: it may quote the text
            log.error("privacy serve: internal error (%s) on %s", type(exc).__name__, scope["path"])
            status, out, ctype = 500, b'{"error":"Internal server error"}', JSON
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(out)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": out})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                try:
                    if not self.engine.started:
                        await asyncio.to_thread(self.startup)
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _read_json(self, receive: Any) -> Any:
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                raise ApiError(400, "client disconnected")
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise ApiError(413, f"The request body exceeds the limit of {self.max_body} bytes.")
            chunks.append(chunk)
            if not msg.get("more_body", False):
                break
        raw = b"".join(chunks)
        try:
            return orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            raise ApiError(400, "Failed to decode JSON object: the request body is not valid JSON") from None

    # -- analyzer ------------------------------------------------------------------------------
    async def analyze(self, req: Any) -> bytes:
        if not isinstance(req, dict):
            raise ApiError(400, "Invalid request json")
        text = req.get("text")
        if not text:
            raise ApiError(400, "No text provided")
        batch = isinstance(text, list)
        texts = text if batch else [text]
        if not all(isinstance(t, str) for t in texts):
            raise _parse_error("text must be a string or a list of strings")
        language = req.get("language")
        if not language:
            raise ApiError(400, "No language provided")
        if language not in SUPPORTED_LANGUAGES:
            raise ApiError(400, NO_RECOGNIZERS)
        ad_hoc = self._ad_hoc(req.get("ad_hoc_recognizers"), language)
        entities = req.get("entities")
        if entities is not None:
            if not isinstance(entities, list) or not all(isinstance(e, str) for e in entities):
                raise _parse_error("entities must be a list of strings")
            known = {e for e in entities if e in self.entities}
            extra = {e for r in ad_hoc for e in r.supported_entities if not entities or e in entities}
            if entities and not known and not extra:
                raise ApiError(400, NO_RECOGNIZERS)
            wanted: frozenset[str] | None = frozenset(known | extra) if entities else None
        else:
            wanted = None
        threshold = req.get("score_threshold")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
            raise _parse_error("score_threshold must be a number")
        allow = self._allow(req.get("allow_list"), req.get("allow_list_match", "exact"))
        tenant = PATTERNS_TENANT if wanted is not None and "PERSON" not in wanted else self.tenant
        try:
            if sum(len(t) for t in texts) > self.settings.offload_chars:
                found = await asyncio.to_thread(self.engine.analyze_many, texts, tenant)
            else:
                found = self.engine.analyze_many(texts, tenant)
        except TextTooLarge:
            raise ApiError(
                413, f"The text is over the limit of {self.settings.max_chars} characters."
            ) from None
        out: list[list[dict[str, Any]]] = []
        for t, per_text in zip(texts, found, strict=True):
            items = [(f.entity_type, f.start, f.end, f.score) for f in per_text]
            for rec in ad_hoc:
                items.extend(
                    (r.entity_type, r.start, r.end, r.score) for r in rec.analyze(t, rec.supported_entities)
                )
            rows = []
            for et, start, end, score in items:
                if wanted is not None and et not in wanted:
                    continue
                if threshold is not None and score < threshold:
                    continue
                if allow is not None and allow(t[start:end]):
                    continue
                rows.append(
                    {
                        "analysis_explanation": None,
                        "end": end,
                        "entity_type": et,
                        "score": score,
                        "start": start,
                    }
                )
            rows.sort(key=lambda r: (r["start"], r["end"]))
            out.append(rows)
        return orjson.dumps(out if batch else out[0])

    @staticmethod
    def _ad_hoc(raw: Any, language: str) -> list[Any]:
        if not raw:
            return []
        if not isinstance(raw, list):
            raise _parse_error("ad_hoc_recognizers must be a list")
        from presidio_analyzer import PatternRecognizer

        recs = []
        for spec in raw:
            if not isinstance(spec, dict):
                raise _parse_error("each ad-hoc recognizer must be an object")
            try:
                rec = PatternRecognizer.from_dict(spec)
            except (TypeError, ValueError, KeyError, re.error) as exc:
                raise _parse_error(f"invalid ad-hoc recognizer ({type(exc).__name__})") from None
            if rec.supported_language in (language, None):
                recs.append(rec)
        return recs

    @staticmethod
    def _allow(values: Any, match: Any) -> Any:
        if not values:
            return None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise _parse_error("allow_list must be a list of strings")
        if match == "exact":
            exact = frozenset(values)
            return exact.__contains__
        if match == "regex":
            try:
                pattern = re.compile("|".join(values), re.DOTALL | re.MULTILINE | re.IGNORECASE)
            except re.error:
                raise _parse_error("allow_list holds an invalid regular expression") from None
            return lambda v: pattern.fullmatch(v) is not None
        raise _parse_error("allow_list_match must be 'exact' or 'regex'")

    async def supported_entities(self, query: dict[str, str]) -> tuple[int, bytes, bytes]:
        language = query.get("language")
        if language is not None and language not in SUPPORTED_LANGUAGES:
            raise ApiError(400, NO_RECOGNIZERS)
        return 200, orjson.dumps(list(self.entities)), JSON

    async def recognizers(self, query: dict[str, str]) -> tuple[int, bytes, bytes]:
        language = query.get("language")
        if language is not None and language not in SUPPORTED_LANGUAGES:
            raise ApiError(400, NO_RECOGNIZERS)
        names = dict.fromkeys(r.name for r in self.engine.profile(None).recognizers)
        if self.engine.ner is not None:
            names["SpacyRecognizer"] = None
        return 200, orjson.dumps(list(names)), JSON

    async def health(self, query: dict[str, str]) -> tuple[int, bytes, bytes]:
        return 200, HEALTH_TEXT, b"text/html; charset=utf-8"

    # -- anonymizer ----------------------------------------------------------------------------
    async def anonymize(self, req: Any) -> bytes:
        """presidio-anonymizer's engine, so operators and output are exactly Presidio's."""
        if not req or not isinstance(req, dict):
            raise ApiError(400, "Invalid request json")
        text = req.get("text")
        if not isinstance(text, str):
            raise ApiError(422, "Invalid input, text must be a string")
        try:
            results = self._convertor.analyzer_results_from_json(req.get("analyzer_results"))
            anonymizers = req.get("anonymizers")
            if anonymizers is not None and not isinstance(anonymizers, dict):
                raise self._invalid_param("Invalid input, anonymizers must be an object")
            operators = self._convertor.operators_config_from_json(anonymizers)
            result = self._anonymizer.anonymize(text=text, analyzer_results=results, operators=operators)
        except self._invalid_param as exc:
            raise ApiError(422, str(getattr(exc, "err_msg", "invalid parameter"))) from None
        except (TypeError, AttributeError, KeyError, ValueError):
            raise ApiError(422, "Invalid input, analyzer_results must be a list of results") from None
        return result.to_json().encode()

    async def anonymizers(self, query: dict[str, str]) -> tuple[int, bytes, bytes]:
        return 200, orjson.dumps(self._anonymizer.get_anonymizers()), JSON


def _query(scope: dict[str, Any]) -> dict[str, str]:
    from urllib.parse import parse_qsl

    raw = scope.get("query_string", b"")
    return dict(parse_qsl(raw.decode("latin-1"))) if raw else {}
