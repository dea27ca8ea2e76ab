"""The OpenAPI 3.1 document `gateway serve` publishes at ``/openapi.json``.

It describes the routes and the OpenAI request shapes the gateway itself checks
(gateway/chain/requests.py); every other OpenAI field is accepted and forwarded to
the model server (after screening), so request objects stay open
(``additionalProperties``). Every error has the one OpenAI error shape.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson

from gateway import __version__

_ERR_REF = {"$ref": "#/components/schemas/Error"}
_ERRORS = {
    "400": "The body is not a JSON object, nests too deeply, or a checked field has the wrong type",
    "401": "No bearer token, or a bad one",
    "403": "Refused by policy",
    "404": "Unknown model",
    "405": "Wrong method",
    "413": "The body exceeds server.max_body_bytes",
    "415": "Not JSON, or an encoded (gzip...) body",
    "429": "Rate limited (Retry-After and x-ratelimit-* headers)",
    "502": "The model server failed or answered garbage",
    "503": "A dependency (audit store, rate-limit store, policy engine) cannot answer: fail closed",
    "504": "The model server did not answer in time",
}


def _errors(*codes: str) -> dict[str, Any]:
    return {
        c: {"description": _ERRORS[c], "content": {"application/json": {"schema": _ERR_REF}}} for c in codes
    }


_API_ERRORS = ("400", "401", "403", "404", "405", "413", "415", "429", "502", "503", "504")

_STRINGS = {"type": "array", "items": {"type": "string"}, "minItems": 1}

_CONTENT_PART = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "enum": ["text", "image_url", "input_audio", "file"]},
        "text": {"type": "string"},
        "image_url": {
            "type": "object",
            "properties": {"url": {"type": "string"}, "detail": {"type": "string"}},
        },
    },
    "required": ["type"],
}

_TOOL_CALL = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "type": {"type": "string", "enum": ["function"]},
        "function": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "arguments": {"type": "string"}},
            "required": ["name", "arguments"],
        },
    },
    "required": ["id", "type", "function"],
}

_MESSAGE = {
    "type": "object",
    "properties": {
        "role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": {
            "anyOf": [{"type": "string"}, {"type": "array", "items": _CONTENT_PART}, {"type": "null"}]
        },
        "name": {"type": "string"},
        "tool_calls": {"type": "array", "items": _TOOL_CALL},
        "tool_call_id": {"type": "string"},
    },
    "required": ["role"],
}

_COMMON = {
    "model": {
        "type": "string",
        "minLength": 1,
        "description": "A configured model name (or any, with a '*' route)",
    },
    "stream": {"type": "boolean", "default": False},
    "max_tokens": {"type": "integer", "minimum": 1},
    "max_completion_tokens": {"type": "integer", "minimum": 1},
    "temperature": {"type": "number", "minimum": 0, "maximum": 2},
    "top_p": {"type": "number", "minimum": 0, "maximum": 1},
    "n": {"type": "integer", "minimum": 1, "maximum": 8},
    "stop": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": 4}]},
    "user": {"type": "string"},
    "seed": {"type": "integer"},
    "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "code": {"type": ["string", "null"]},
                },
                "required": ["message", "type"],
            }
        },
        "required": ["error"],
    },
    "ChatCompletionRequest": {
        "type": "object",
        "properties": {
            **_COMMON,
            "messages": {"type": "array", "items": _MESSAGE, "minItems": 1},
            "tools": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string", "enum": ["function"]},
                        "function": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "description": {"type": "string"},
                                "parameters": {"type": "object"},
                            },
                            "required": ["name"],
                        },
                    },
                    "required": ["type", "function"],
                },
            },
            "response_format": {"type": "object", "properties": {"type": {"type": "string"}}},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "required": ["model", "messages"],
        "additionalProperties": True,
    },
    "CompletionRequest": {
        "type": "object",
        "properties": {
            **_COMMON,
            "prompt": {
                "anyOf": [{"type": "string"}, _STRINGS],
                "description": "Text only: token-id prompts are refused (400)",
            },
        },
        "required": ["model", "prompt"],
        "additionalProperties": True,
    },
    "EmbeddingRequest": {
        "type": "object",
        "properties": {
            "model": _COMMON["model"],
            "input": {
                "anyOf": [{"type": "string"}, _STRINGS],
                "description": "Text only: token-id inputs are refused (400)",
            },
            "encoding_format": {"type": "string", "enum": ["float", "base64"]},
            "dimensions": {"type": "integer", "minimum": 1},
            "user": {"type": "string"},
        },
        "required": ["model", "input"],
        "additionalProperties": True,
    },
    "ModelList": {
        "type": "object",
        "properties": {
            "object": {"const": "list"},
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "object": {"const": "model"},
                        "created": {"type": "integer"},
                        "owned_by": {"type": "string"},
                    },
                    "required": ["id", "object"],
                },
            },
        },
        "required": ["object", "data"],
    },
    "Answer": {"type": "object", "description": "The model server's OpenAI-shaped answer, screened"},
}


def _api(op_id: str, summary: str, schema: str) -> dict[str, Any]:
    return {
        "post": {
            "operationId": op_id,
            "summary": summary,
            "security": [{"bearer": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
            },
            "responses": {
                "200": {
                    "description": "The answer (a JSON object, or an SSE stream when stream is true)",
                    "headers": {"x-request-id": {"schema": {"type": "string"}}},
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Answer"}},
                        "text/event-stream": {"schema": {"type": "string"}},
                    },
                },
                **_errors(*_API_ERRORS),
            },
        }
    }


def _plain(op_id: str, summary: str, media: str = "application/json") -> dict[str, Any]:
    return {
        "get": {
            "operationId": op_id,
            "summary": summary,
            "security": [],
            "responses": {"200": {"description": "OK", "content": {media: {"schema": {}}}}},
        }
    }


def build_document() -> dict[str, Any]:
    ready = _plain("readyz", "Readiness: upstreams and every plugin")
    ready["get"]["responses"]["503"] = {
        "description": "Not ready",
        "content": {"application/json": {"schema": {}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "compliance-gateway",
            "version": __version__,
            "description": "An OpenAI-compatible proxy that authenticates, rate-limits, screens personal "
            "data, applies policy and writes a tamper-evident audit record for every request.",
        },
        "paths": {
            "/v1/chat/completions": _api(
                "createChatCompletion", "Chat completion through the chain", "ChatCompletionRequest"
            ),
            "/v1/completions": _api(
                "createCompletion", "Text completion through the chain", "CompletionRequest"
            ),
            "/v1/embeddings": _api("createEmbedding", "Embeddings through the chain", "EmbeddingRequest"),
            "/v1/models": {
                "get": {
                    "operationId": "listModels",
                    "summary": "Models the caller may name",
                    "security": [{"bearer": []}],
                    "responses": {
                        "200": {
                            "description": "The model list",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/ModelList"}}
                            },
                        },
                        **_errors("401", "405", "503"),
                    },
                }
            },
            "/healthz": _plain("healthz", "Liveness"),
            "/readyz": ready,
            "/metrics": _plain("metrics", "Prometheus metrics", "text/plain"),
            "/openapi.json": _plain("openapi", "This document"),
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


@cache
def openapi_document() -> bytes:
    return orjson.dumps(build_document())
