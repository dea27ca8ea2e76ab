import hashlib
import math
import random
import string

import pytest
import rfc8785

from audit.hashing import GENESIS, canonical_json, chain_hash, leaf_hash, node_hash


def _random_value(rng: random.Random, depth: int = 0):  # noqa: ANN202
    kind = rng.randrange(7 if depth < 3 else 5)
    if kind == 0:
        return rng.randint(-(2**53) + 1, 2**53 - 1)
    if kind == 1:
        x = rng.choice(
            [
                rng.uniform(-1e6, 1e6),
                rng.random() * 10 ** rng.randint(-9, 25),
                float(rng.randint(-9, 9)),
                1e-7,
                5e-5,
                1e21,
                123.0,
                -0.0,
            ]
        )
        return x if math.isfinite(x) else 0.5
    if kind == 2:
        alphabet = string.printable + "\x00\x01\x1f\x7f\u00e9\u4e2d\u2028\U0001f600"
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return rng.randint(-5, 5)
    if kind == 5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["a", "b", "B", "_x", "z9", "\u00e9t\u00e9", "\U0001f600", "\ue000", "10", "1"]
    return {rng.choice(keys): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def test_canonical_json_is_rfc8785_on_random_documents() -> None:
    rng = random.Random(8785)
    for _ in range(3000):
        doc = {"payload": _random_value(rng), "n": _random_value(rng)}
        assert canonical_json(doc) == rfc8785.dumps(doc)


def test_canonical_json_of_a_gateway_event_sorts_keys_and_has_no_spaces() -> None:
    doc = {"type": "gateway.request", "payload": {"timings_ms": {"pii": 3.25, "auth": 0.5}, "status": 200}}
    assert (
        canonical_json(doc)
        == b'{"payload":{"status":200,"timings_ms":{"auth":0.5,"pii":3.25}},"type":"gateway.request"}'
    )


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 2**60, {1: "int key"}])
def test_canonical_json_refuses_what_rfc8785_cannot_represent(bad: object) -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": bad})


def test_domain_separated_hashes() -> None:
    d = b"record"
    assert leaf_hash(d) == hashlib.sha256(b"\x00" + d).digest()
    assert node_hash(b"l" * 32, b"r" * 32) == hashlib.sha256(b"\x01" + b"l" * 32 + b"r" * 32).digest()
    assert chain_hash(GENESIS, d) == hashlib.sha256(b"\x02" + bytes(32) + d).digest()
    assert len({leaf_hash(d), chain_hash(GENESIS, d), hashlib.sha256(d).digest()}) == 3


@pytest.mark.parametrize(
    "payload", [{"t": 1.5}, {"\u00e9t\u00e9": 1.0, "x": 1e-7, "big": 1e22}, {"\U0001f600": [0.0, -0.0]}]
)
def test_record_bodies_are_rfc8785_whichever_path_they_take(payload: dict) -> None:
    from audit.record import make_body

    sealed = {"kid": "k1", "n": "bm9uY2U", "ct": "Y2lwaGVy"}
    body = make_body(
        "2026-01-01T00:00:00.000000Z", "gateway.request", "ab" * 32, "t\u00e9nant", payload, sealed
    )
    doc = {
        "v": 1,
        "time": "2026-01-01T00:00:00.000000Z",
        "type": "gateway.request",
        "actor": "ab" * 32,
        "tenant": "t\u00e9nant",
        "payload": payload,
        "personal": sealed,
    }
    assert body == rfc8785.dumps(doc)
