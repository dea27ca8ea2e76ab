"""Canonical JSON and the three hashes of the log, each with a named prefix.

- ``leaf_hash(d)  = SHA-256(0x00 || d)``       RFC 6962 Merkle leaf
- ``node_hash(l, r) = SHA-256(0x01 || l || r)``  RFC 6962 Merkle interior node
- ``chain_hash(prev, d) = SHA-256(0x02 || prev || d)``  the hash chain

The prefixes keep the three domains apart: no leaf can pass for a node or a
chain link. ``d`` is a record's canonical JSON (RFC 8785). The ``rfc8785``
package is the reference; it is pure Python (~40 us a record), so documents
whose every value orjson already writes in RFC 8785 form (ASCII keys, integers
within +-2**53, floats in [1e-4, 1e16) that are not whole numbers, any string)
take orjson's sorted-key output, which is byte-identical there (the tests
compare both on random documents). Anything else goes to ``rfc8785``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import rfc8785

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
CHAIN_PREFIX = b"\x02"
HASH_SIZE = 32
# The chain's first "previous hash": 32 zero bytes.
GENESIS = bytes(HASH_SIZE)

_MAX_SAFE_INT = 2**53 - 1
_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    return _sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(NODE_PREFIX + left + right).digest()


def chain_hash(prev: bytes, data: bytes) -> bytes:
    return _sha256(CHAIN_PREFIX + prev + data).digest()


class _NotFast(Exception):
    pass


def _check(obj: Any) -> None:
    """Raise _NotFast unless orjson's output of ``obj`` is its RFC 8785 form (iterative: no recursion cost)."""
    stack = [obj]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        o = pop()
        t = type(o)
        if t is str or t is bool or o is None:
            continue
        if t is dict:
            for k, v in o.items():
                if type(k) is not str or not k.isascii():
                    raise _NotFast
                tv = type(v)
                if tv is str or tv is bool or v is None:
                    continue
                if tv is int:
                    if not -_MAX_SAFE_INT <= v <= _MAX_SAFE_INT:
                        raise _NotFast
                    continue
                push(v)
        elif t is int:
            if not -_MAX_SAFE_INT <= o <= _MAX_SAFE_INT:
                raise _NotFast
        elif t is float:
            if not 1e-4 <= abs(o) < 1e16 or o.is_integer():
                raise _NotFast
        elif t is list or t is tuple:
            extend(o)
        else:
            raise _NotFast


def orjson_is_canonical(obj: Any) -> bool:
    """True when orjson's sorted-key output of ``obj`` is already its RFC 8785 form."""
    try:
        _check(obj)
    except _NotFast:
        return False
    return True


def canonical_json(obj: Any, *, known_fast: bool = False) -> bytes:
    """RFC 8785 (JCS) bytes of ``obj``; raises ValueError for values JCS cannot represent.

    ``known_fast``: the caller has already established :func:`orjson_is_canonical` for ``obj``.
    """
    if not known_fast and not orjson_is_canonical(obj):
        try:
            return rfc8785.dumps(obj)
        except (
            Exception
        ) as exc:  # rfc8785 raises its own types for NaN, huge ints, bad keys; no values in messages
            raise ValueError(
                f"value cannot be written as canonical JSON (RFC 8785): {type(exc).__name__}"
            ) from None
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
