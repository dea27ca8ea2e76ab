"""Every error a client can see, and its one mapping to the OpenAI error shape.

    GatewayError                      (500 internal_error)
    ├── BadRequest                    (400 invalid_request_error)
    │   ├── PayloadTooLarge           (413)
    │   ├── UnsupportedMediaType      (415 not JSON, or a content-encoding)
    │   └── UnknownModel              (404 model_not_found)
    ├── Unauthorized                  (401, WWW-Authenticate)
    ├── Forbidden                     (403 policy denial)
    ├── NotFound                      (404 unknown route)
    ├── MethodNotAllowed              (405)
    ├── RateLimited                   (429, Retry-After)
    ├── ServiceUnavailable            (503 a dependency cannot answer: fail closed)
    ├── UpstreamError                 (502 upstream down or answered garbage)
    └── UpstreamTimeout               (504)

Messages are written for clients: they never carry stack traces, raw request
content or personal data.
"""

from __future__ import annotations

import logging
import traceback

import orjson

LOGGED_FRAMES = 5  # a RecursionError has a thousand frames: only the innermost few are logged


def log_internal_error(log: logging.Logger, where: str, exc: BaseException) -> None:
    """Log an unexpected exception by type and its innermost stack frames only: its message could
    quote request content (personal data), so it never reaches the log; a deep recursion logs
    ``LOGGED_FRAMES`` frames, not a thousand."""
    frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__, limit=-LOGGED_FRAMES)))
    log.error("internal error (%s) in %s\n%s", type(exc).__name__, where, frames)


class GatewayError(Exception):
    status = 500
    type = "internal_error"
    code = "internal_error"

    def __init__(
        self, message: str, *, code: str | None = None, headers: list[tuple[str, str]] | None = None
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.headers = headers or []

    def body(self) -> bytes:
        return orjson.dumps({"error": {"message": self.message, "type": self.type, "code": self.code}})


class BadRequest(GatewayError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class PayloadTooLarge(BadRequest):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(BadRequest):
    status = 415
    code = "unsupported_media_type"


class UnknownModel(BadRequest):
    status = 404
    code = "model_not_found"


class NotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class MethodNotAllowed(GatewayError):
    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"


class Unauthorized(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_token"

    def __init__(self, message: str, *, code: str | None = None, error: str = "invalid_token"):
        super().__init__(
            message,
            code=code,
            headers=[("www-authenticate", f'Bearer realm="compliance-gateway", error="{error}"')],
        )


class Forbidden(GatewayError):
    status = 403
    type = "permission_error"
    code = "policy_denied"


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class ServiceUnavailable(GatewayError):
    status = 503
    type = "service_unavailable"
    code = "dependency_unavailable"


class UpstreamError(GatewayError):
    status = 502
    type = "upstream_error"
    code = "bad_gateway"


class UpstreamTimeout(GatewayError):
    status = 504
    type = "upstream_error"
    code = "gateway_timeout"
