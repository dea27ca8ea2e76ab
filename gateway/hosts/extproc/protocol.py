"""Building Envoy ext_proc messages (envoy.service.ext_proc.v3), kept apart from the request logic.

The protos come from PyPI ``xds-protos``. Everything here is a small pure function
so the host reads as "event in, verdict out".
"""

from __future__ import annotations

from envoy.config.core.v3.base_pb2 import HeaderValue, HeaderValueOption
from envoy.extensions.filters.http.ext_proc.v3.processing_mode_pb2 import ProcessingMode
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from envoy.type.v3.http_status_pb2 import HttpStatus

__all__ = [
    "BUFFERED",
    "NONE",
    "SKIP",
    "body_response",
    "headers_map",
    "headers_response",
    "immediate",
    "mutation",
    "pb",
    "ProcessingMode",
]

OVERWRITE = HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
SKIP = ProcessingMode.SKIP
NONE = ProcessingMode.NONE
BUFFERED = ProcessingMode.BUFFERED

REQUEST_HEADERS = "request_headers"
REQUEST_BODY = "request_body"
RESPONSE_HEADERS = "response_headers"
RESPONSE_BODY = "response_body"


def headers_map(msg: pb.HttpHeaders) -> dict[str, str]:
    """Envoy sends lower-case names; values come in ``raw_value`` (bytes) or, from older Envoys, ``value``."""
    out: dict[str, str] = {}
    for h in msg.headers.headers:
        value = h.raw_value.decode("latin-1") if h.raw_value else h.value
        prev = out.get(h.key)
        out[h.key] = value if prev is None else f"{prev},{value}"
    return out


def mutation(
    set_headers: list[tuple[str, str]] | None = None, remove: list[str] | None = None
) -> pb.HeaderMutation | None:
    if not set_headers and not remove:
        return None
    return pb.HeaderMutation(
        set_headers=[
            HeaderValueOption(
                header=HeaderValue(key=k, raw_value=v.encode("latin-1")), append_action=OVERWRITE
            )
            for k, v in set_headers or ()
        ],
        remove_headers=remove or (),
    )


def headers_response(
    phase: str, headers: pb.HeaderMutation | None = None, mode: ProcessingMode | None = None
) -> pb.ProcessingResponse:
    common = pb.CommonResponse(header_mutation=headers) if headers is not None else pb.CommonResponse()
    resp = pb.ProcessingResponse(**{phase: pb.HeadersResponse(response=common)})
    if mode is not None:
        resp.mode_override.CopyFrom(mode)
    return resp


def body_response(
    phase: str, body: bytes | None, headers: pb.HeaderMutation | None = None
) -> pb.ProcessingResponse:
    """``body`` None: pass the chunk on unchanged; b"": drop it (held back); else: replace it."""
    common = pb.CommonResponse()
    if body is not None:
        common.body_mutation.CopyFrom(
            pb.BodyMutation(body=body) if body else pb.BodyMutation(clear_body=True)
        )
    if headers is not None:
        common.header_mutation.CopyFrom(headers)
    return pb.ProcessingResponse(**{phase: pb.BodyResponse(response=common)})


def immediate(
    status: int, headers: list[tuple[str, str]], body: bytes, details: str
) -> pb.ProcessingResponse:
    """Envoy answers the client itself; the model server is never called."""
    return pb.ProcessingResponse(
        immediate_response=pb.ImmediateResponse(
            status=HttpStatus(code=status),
            headers=mutation(headers),
            body=body,
            details=details,
        )
    )
