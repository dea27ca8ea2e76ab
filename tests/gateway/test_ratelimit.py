"""Rate limits: in memory and in a real Redis shared by two gateway replicas."""

from __future__ import annotations

import uuid

import httpx
import pytest
import redis

from gateway.auth.devkey import mint
from gateway.ratelimit.buckets import Bucket, MemoryLimiter, RedisLimiter, format_reset
from tests.gateway.conftest import auth

CHAT = {"model": "echo-1", "messages": [{"role": "user", "content": "hi"}]}


def _post(url, tok, body=CHAT):
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=auth(tok))


def test_requests_per_minute_per_subject_429(upstream, gateway_factory):
    _, up_url = upstream
    url, _ = gateway_factory(
        upstreams=[{"name": "u", "url": up_url}],
        rate_limit={"subject": {"requests_per_minute": 3}, "tenant": {"requests_per_minute": 100}},
    )
    alice, bob = mint("alice", "acme", ["user"]), mint("bob", "acme", ["user"])
    statuses = [_post(url, alice).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    r = _post(url, alice)
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["x-ratelimit-remaining-requests"] == "0"
    assert r.headers["x-ratelimit-limit-requests"] == "3"
    assert r.json()["error"]["type"] == "rate_limit_error"
    assert _post(url, bob).status_code == 200  # another subject has its own bucket


def test_tenant_limit_and_overrides(upstream, gateway_factory):
    _, up_url = upstream
    url, _ = gateway_factory(
        upstreams=[{"name": "u", "url": up_url}],
        rate_limit={
            "tenant": {"requests_per_minute": 2},
            "subject": {},
            "tenants": {"big": {"requests_per_minute": 50}},
        },
    )
    acme = [mint(f"u{i}", "acme", ["user"]) for i in range(3)]
    assert [_post(url, t).status_code for t in acme] == [200, 200, 429]
    big = [mint(f"u{i}", "big", ["user"]) for i in range(5)]
    assert all(_post(url, t).status_code == 200 for t in big)


def test_tokens_per_minute_counts_prompt_and_completion(upstream, gateway_factory):
    _, up_url = upstream
    url, _ = gateway_factory(
        upstreams=[{"name": "u", "url": up_url}],
        rate_limit={"tenant": {}, "subject": {"tokens_per_minute": 60}},
    )
    tok = mint("alice", "acme", ["user"])
    long = {"model": "echo-1", "messages": [{"role": "user", "content": "x" * 400}]}  # ~104 tokens estimated
    r = _post(url, tok, long)
    assert r.status_code == 429 and r.json()["error"]["code"] == "tokens_exceed_limit"
    r = _post(url, tok)
    assert r.status_code == 200
    remaining_before = int(r.headers["x-ratelimit-remaining-tokens"])
    # The completion (echoed text, 7 usage tokens... counted from the response) is charged after the fact.
    r = _post(url, tok)
    assert int(r.headers["x-ratelimit-remaining-tokens"]) < remaining_before - 5


async def test_memory_limiter_all_or_nothing():
    lim = MemoryLimiter()
    a = Bucket("a", 2, 2 / 60, 1)
    b = Bucket("b", 1, 1 / 60, 1)
    assert (await lim.acquire([a, b])).allowed
    v = await lim.acquire([a, b])
    assert not v.allowed and v.retry_after > 0
    # "a" was not charged by the refused request: one unit is still there.
    assert (await lim.acquire([a])).allowed
    assert format_reset(0.02) == "20ms" and format_reset(90) == "1m30s"


@pytest.fixture
def redis_prefix():
    prefix = f"cg:test:{uuid.uuid4().hex}:"
    yield prefix
    r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    for k in r.scan_iter(prefix + "*"):
        r.delete(k)


async def test_redis_limiter_atomic_and_refill(redis_prefix):
    lim = RedisLimiter("redis://127.0.0.1:6379/0")
    try:
        b = Bucket(redis_prefix + "x", 3, 3 / 60, 1)
        results = [(await lim.acquire([b])).allowed for _ in range(4)]
        assert results == [True, True, True, False]
        big = Bucket(redis_prefix + "y", 600, 600 / 60, 1)  # 10 per second
        await lim.acquire([Bucket(big.key, 600, 600 / 60, 600)], force=True)  # drain it in one go
        v = await lim.acquire([big])
        assert not v.allowed and 0 < v.retry_after <= 0.2
    finally:
        await lim.aclose()


def test_two_replicas_share_one_redis_limit(upstream, gateway_factory, redis_prefix):
    _, up_url = upstream
    rl = {"backend": "redis", "key_prefix": redis_prefix, "tenant": {}, "subject": {"requests_per_minute": 4}}
    url1, _ = gateway_factory(upstreams=[{"name": "u", "url": up_url}], rate_limit=rl)
    url2, _ = gateway_factory(upstreams=[{"name": "u", "url": up_url}], rate_limit=rl)
    tok = mint("alice", "acme", ["user"])
    statuses = [_post(u, tok).status_code for u in (url1, url2, url1, url2, url1, url2)]
    assert statuses == [200, 200, 200, 200, 429, 429]
    # Subject ids never appear in Redis key names.
    keys = [
        k.decode() for k in redis.Redis.from_url("redis://127.0.0.1:6379/0").scan_iter(redis_prefix + "*")
    ]
    assert keys and not any("alice" in k for k in keys)


def test_redis_down_fails_closed(upstream, gateway_factory):
    from tests.servers import closed_port

    _, up_url = upstream
    url, _ = gateway_factory(
        upstreams=[{"name": "u", "url": up_url}],
        rate_limit={"backend": "redis", "redis_url": f"redis://127.0.0.1:{closed_port()}/0"},
    )
    r = _post(url, mint("alice", "acme", ["user"]))
    assert r.status_code == 503 and r.json()["error"]["type"] == "service_unavailable"
