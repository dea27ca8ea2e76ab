"""The ext_proc protocol as an attacker or a broken Envoy would speak it: a real grpc.aio server
(in this process, so its tasks can be counted) and a real gRPC client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest
from envoy.config.core.v3.base_pb2 import HeaderMap, HeaderValue
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc

from gateway.auth.devkey import mint
from gateway.chain.core import Chain
from gateway.config import load_config
from gateway.hosts.extproc.server import ExtProcHost, serve


def headers(pairs: dict[str, str], eos: bool = False) -> pb.HttpHeaders:
    return pb.HttpHeaders(
        headers=HeaderMap(headers=[HeaderValue(key=k, raw_value=v.encode()) for k, v in pairs.items()]),
        end_of_stream=eos,
    )


TOKEN = mint("alice", "acme", ["user"])
REQ_HEADERS = pb.ProcessingRequest(
    request_headers=headers(
        {
            ":method": "POST",
            ":path": "/v1/chat/completions",
            "content-type": "application/json",
            "authorization": f"Bearer {TOKEN}",
        }
    )
)
BODY = orjson.dumps({"model": "echo-1", "messages": [{"role": "user", "content": "hi"}]})
REQ_BODY = pb.ProcessingRequest(request_body=pb.HttpBody(body=BODY, end_of_stream=True))
RESP_HEADERS = pb.ProcessingRequest(
    response_headers=headers({":status": "200", "content-type": "application/json"})
)
RESP_BODY = pb.ProcessingRequest(response_body=pb.HttpBody(body=b"{}", end_of_stream=True))


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()] if path.exists() else []


@contextlib.asynccontextmanager
async def processor(
    tmp_path: Path, store: str | None = None
) -> AsyncIterator[tuple[pb_grpc.ExternalProcessorStub, ExtProcHost, Path]]:
    audit = tmp_path / "audit.jsonl"
    config = load_config(
        None,
        environ={},
        overrides={
            "upstreams": [{"name": "u", "url": "http://127.0.0.1:9"}],
            "plugins": ["auth", "audit"],
            "audit": {"store": store or f"jsonl://{audit}"},
        },
    )
    stop = asyncio.Event()
    started: asyncio.Future[tuple[int, ExtProcHost]] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(
        serve(
            Chain.from_config(config, host="extproc"),
            "127.0.0.1",
            0,
            stop=stop,
            on_start=lambda p, s: started.set_result((p, s)),
        )
    )
    port, servicer = await asyncio.wait_for(started, 30)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield pb_grpc.ExternalProcessorStub(channel), servicer, audit
    stop.set()
    await task


async def exchange(
    stub: pb_grpc.ExternalProcessorStub, msgs: list[pb.ProcessingRequest]
) -> list[pb.ProcessingResponse]:
    call = stub.Process()
    out = []
    for m in msgs:
        await call.write(m)
        out.append(await call.read())
    await call.done_writing()
    return out


@pytest.mark.parametrize(
    "sequence, at",
    [
        ([REQ_BODY], "request_body after start"),
        ([REQ_HEADERS, REQ_HEADERS], "request_headers after request_headers"),
        ([RESP_HEADERS, REQ_HEADERS], "request_headers after passthrough"),
        ([REQ_HEADERS, RESP_BODY], "response_body after request_headers"),
        ([REQ_HEADERS, REQ_BODY, REQ_BODY], "request_body after forwarded"),
        ([REQ_HEADERS, REQ_BODY, RESP_BODY], "response_body after forwarded"),
    ],
)
async def test_events_out_of_order_abort_the_stream(
    tmp_path: Path, sequence: list[pb.ProcessingRequest], at: str
) -> None:
    async with processor(tmp_path) as (stub, servicer, audit):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            got = await exchange(stub, sequence)
            # Anything answered before the violation passes the body on only after screening.
            assert all(not r.HasField("immediate_response") for r in got)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert at in (err.value.details() or "")
        await asyncio.sleep(0.05)
        assert servicer.active == 0
    if sequence[0] is REQ_HEADERS:  # a request had begun: it is on record, as a protocol error
        recs = audit_lines(audit)
        assert len(recs) == 1 and recs[0]["payload"]["outcome"] == "protocol_error", recs


async def test_local_reply_of_an_earlier_filter_passes_unchanged(tmp_path: Path) -> None:
    """jwt_authn's 401 reaches us as response events with no request events before them."""
    async with processor(tmp_path) as (stub, _, audit):
        got = await exchange(stub, [RESP_HEADERS, RESP_BODY])
        assert got[0].WhichOneof("response") == "response_headers" and not got[0].HasField("mode_override")
        assert not got[0].response_headers.response.HasField("header_mutation")
        assert not got[1].response_body.response.HasField("body_mutation")
    assert audit_lines(audit) == []


async def test_cancelled_stream_leaks_no_task_and_is_audited(tmp_path: Path) -> None:
    async with processor(tmp_path) as (stub, servicer, audit):
        baseline = len(asyncio.all_tasks())
        call = stub.Process()
        await call.write(REQ_HEADERS)
        await call.read()
        await call.write(REQ_BODY)
        resp = await call.read()
        assert resp.request_body.response.body_mutation.body  # screened and forwarded
        call.cancel()  # Envoy gives up mid-request (client gone) before the answer
        for _ in range(100):
            await asyncio.sleep(0.02)
            if servicer.active == 0 and not servicer._closing and len(asyncio.all_tasks()) <= baseline:
                break
        assert servicer.active == 0 and not servicer._closing
        assert len(asyncio.all_tasks()) <= baseline
    recs = audit_lines(audit)
    assert len(recs) == 1, recs
    assert recs[0]["payload"]["outcome"] == "cancelled" and recs[0]["payload"]["status"] == 499


async def test_request_body_must_be_buffered_whole(tmp_path: Path) -> None:
    async with processor(tmp_path) as (stub, _, _audit):
        partial = pb.ProcessingRequest(request_body=pb.HttpBody(body=BODY[:10], end_of_stream=False))
        got = await exchange(stub, [REQ_HEADERS, partial])
        assert got[1].immediate_response.status.code == 503
        assert b"BUFFERED" in got[1].immediate_response.body


async def test_no_record_no_done_the_stream_ends_with_an_error(tmp_path: Path) -> None:
    """The audit store stops accepting records mid-stream: the last chunk carries an error, not [DONE]."""
    async with processor(tmp_path, store=f"sqlite:///{tmp_path / 'audit.db'}") as (stub, servicer, _):
        call = stub.Process()
        stream_body = orjson.dumps(
            {"model": "echo-1", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        )
        for msg in (
            REQ_HEADERS,
            pb.ProcessingRequest(request_body=pb.HttpBody(body=stream_body, end_of_stream=True)),
            pb.ProcessingRequest(
                response_headers=headers({":status": "200", "content-type": "text/event-stream"})
            ),
        ):
            await call.write(msg)
            await call.read()
        ev = b'data: {"choices":[{"index":0,"delta":{"content":"hello"}}]}\n\n'
        await call.write(pb.ProcessingRequest(response_body=pb.HttpBody(body=ev)))
        first = (await call.read()).response_body.response.body_mutation.body
        assert b"hello" in first
        await servicer.chain.pipeline.plugin("audit").writer.aclose()  # the store goes away
        await call.write(
            pb.ProcessingRequest(response_body=pb.HttpBody(body=b"data: [DONE]\n\n", end_of_stream=True))
        )
        last = (await call.read()).response_body.response.body_mutation.body
        await call.done_writing()
        assert b"[DONE]" not in last and b"audit_unavailable" in last, last


async def test_no_record_no_json_answer(tmp_path: Path) -> None:
    async with processor(tmp_path, store=f"sqlite:///{tmp_path / 'audit.db'}") as (stub, servicer, _):
        call = stub.Process()
        for msg in (REQ_HEADERS, REQ_BODY, RESP_HEADERS):
            await call.write(msg)
            await call.read()
        await servicer.chain.pipeline.plugin("audit").writer.aclose()
        answer = orjson.dumps(
            {
                "id": "x",
                "object": "chat.completion",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "hello"},
                        "finish_reason": "stop",
                    }
                ],
            }
        )
        await call.write(pb.ProcessingRequest(response_body=pb.HttpBody(body=answer, end_of_stream=True)))
        resp = await call.read()
        await call.done_writing()
        assert resp.immediate_response.status.code == 503
        assert (
            b"audit_unavailable" in resp.immediate_response.body
            and b"hello" not in resp.immediate_response.body
        )


async def test_client_address_is_the_one_envoy_saw(tmp_path: Path) -> None:
    """x-forwarded-for is 'what the client said, ..., what Envoy saw': only the last entry is trusted."""
    from gateway.hosts.extproc.server import Exchange

    async with processor(tmp_path) as (_, servicer, _audit):
        for extra, want in (
            ({"x-forwarded-for": "6.6.6.6, 10.0.0.7"}, "10.0.0.7"),
            ({"x-forwarded-for": "6.6.6.6", "x-envoy-external-address": "10.0.0.8"}, "10.0.0.8"),
            ({}, None),
        ):
            ex = Exchange(servicer)
            msg = pb.ProcessingRequest(
                request_headers=headers(
                    {
                        ":method": "POST",
                        ":path": "/v1/chat/completions",
                        "authorization": f"Bearer {TOKEN}",
                        **extra,
                    }
                )
            )
            await ex.handle(msg)
            assert ex.ctx is not None and ex.ctx.client == want
            await ex.close("cancelled")
