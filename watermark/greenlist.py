"""The keyed green list of the KGW text watermark, vectorised over the vocabulary.

Kirchenbauer et al. seed a PRNG with a hash of the context and draw a random
permutation of the vocabulary at every step; that costs a ``randperm(V)`` per token
and cannot be batched. Here green-ness is a keyed hash of (context, candidate):
two per-token tables of 32-bit values come from SHAKE-256 under a subkey (so they
are the same on every machine and for every vocabulary size, a prefix property of
SHAKE), and a 32-bit finaliser (murmur3 fmix32) mixes them. A token is green when
the mixed value is below ``gamma * 2**32``, so for text independent of the key every
scored token is green with probability gamma: the binomial null of the detector.

Two seeding schemes, as in the paper's follow-up ("On the reliability of watermarks"):
- LeftHash: the seed is a hash chain over the ``context_width`` previous tokens.
- SelfHash: the seed is the minimum over the context tokens *and the candidate itself*
  of a pair hash, which makes the mark harder to scrub by editing single tokens.

Everything is integer tensor arithmetic on int64 holding 32-bit values (products wrap
in the high bits, the low 32 are exact); the same code serves generation (B x V) and
detection (n positions).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from watermark.keys import WatermarkKey

MASK32 = 0xFFFFFFFF


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """x * c mod 2^32 for 32-bit values in int64: the product may wrap past 2^63, and two's-complement
    wrap-around keeps the low 32 bits exact (a test checks this against 16-bit halves)."""
    return (x * c) & MASK32


def fmix32(x: torch.Tensor) -> torch.Tensor:
    """murmur3's 32-bit finaliser: every input bit flips each output bit with probability ~1/2."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x85EBCA6B)
    x = x ^ (x >> 13)
    x = _mul32(x, 0xC2B2AE35)
    return x ^ (x >> 16)


def _shake_table(secret: bytes, label: bytes, size: int) -> torch.Tensor:
    raw = hashlib.shake_256(label + secret).digest(4 * size)
    return torch.from_numpy(np.frombuffer(raw, dtype="<u4").astype(np.int64))


@dataclass(frozen=True)
class GreenList:
    """Keyed tables for one vocabulary size; build once at start-up with ``GreenList.build``."""

    gamma: float
    context_width: int
    self_hash: bool
    ctx_table: torch.Tensor  # (V,) values hashed for context tokens
    cand_table: torch.Tensor  # (V,) values hashed for candidate tokens
    k0: int
    k1: int
    threshold: int

    @classmethod
    def build(
        cls, key: WatermarkKey, vocab_size: int, gamma: float, context_width: int, self_hash: bool
    ) -> GreenList:
        if not 0.0 < gamma < 1.0:
            raise ValueError(f"gamma must be in (0, 1), got {gamma}")
        if context_width < 1:
            raise ValueError(f"context width must be >= 1, got {context_width}")
        sub = key.derive("text-kgw-tables")
        ks = key.prf("text-kgw-constants")
        return cls(
            gamma=gamma,
            context_width=context_width,
            self_hash=self_hash,
            ctx_table=_shake_table(sub, b"ctx\x00", vocab_size),
            cand_table=_shake_table(sub, b"cand\x00", vocab_size),
            k0=int.from_bytes(ks[:4], "big"),
            k1=int.from_bytes(ks[4:8], "big"),
            threshold=int(gamma * 2**32),
        )

    @property
    def vocab_size(self) -> int:
        return int(self.ctx_table.shape[0])

    def to(self, device: torch.device | str) -> GreenList:
        return GreenList(
            self.gamma,
            self.context_width,
            self.self_hash,
            self.ctx_table.to(device),
            self.cand_table.to(device),
            self.k0,
            self.k1,
            self.threshold,
        )

    def is_green(self, context: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """Green-ness of candidates given contexts.

        ``context``: (..., h) token ids (the h previous tokens, oldest first);
        ``candidates``: token ids broadcastable against ``context[..., 0]``.
        Generation passes (B, 1, h) and (V,) -> (B, V); detection passes (n, h) and (n,) -> (n,).
        """
        ctx = self.ctx_table[context]
        cand = self.cand_table[candidates]
        if self.self_hash:
            seed = fmix32(cand ^ self.k1)
            for j in range(ctx.shape[-1]):
                seed = torch.minimum(seed, fmix32(ctx[..., j] ^ cand))
            value = fmix32(fmix32(seed ^ self.k0) ^ self.ctx_table[candidates])
        else:
            seed = torch.full_like(ctx[..., 0], self.k0)
            for j in range(ctx.shape[-1]):
                seed = fmix32(seed ^ ctx[..., j])
            value = fmix32(seed ^ cand)
        return value < self.threshold
