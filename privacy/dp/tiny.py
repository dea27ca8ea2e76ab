"""Tiny causal LMs and synthetic text, built locally (no hub): for tests, bench and demos.

A model here has a few thousand parameters and a byte-level BPE tokenizer trained on
a few KB of synthetic text, saved with ``save_pretrained`` like any real model.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

_NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
_ITEMS = ["a lamp", "two books", "a chair", "green tea", "a bicycle", "paper", "a phone case", "socks"]
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_TEMPLATES = [
    "{name} ordered {item} on {day} and paid with card.",
    "on {day} {name} returned {item} to the store.",
    "{name} asked about the delivery of {item}.",
    "the support team called {name} on {day}.",
]


def synthetic_records(n: int, seed: int = 0) -> list[str]:
    """Short customer-service style records with a learnable structure."""
    rng = random.Random(seed)
    return [
        rng.choice(_TEMPLATES).format(name=rng.choice(_NAMES), item=rng.choice(_ITEMS), day=rng.choice(_DAYS))
        for _ in range(n)
    ]


def write_jsonl(path: str | Path, records: list[str]) -> Path:
    p = Path(path)
    p.write_text("".join(json.dumps({"text": r}) + "\n" for r in records), encoding="utf-8")
    return p


def train_tokenizer(texts: list[str], vocab_size: int = 400) -> Any:
    """A byte-level BPE tokenizer trained on ``texts`` (seconds, offline)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )


def _gpt2(vocab: int, context: int, width: int, layers: int) -> Any:
    from transformers import GPT2Config, GPT2LMHeadModel

    return GPT2LMHeadModel(
        GPT2Config(
            vocab_size=vocab,
            n_positions=context,
            n_embd=width,
            n_layer=layers,
            n_head=2,
            bos_token_id=0,
            eos_token_id=0,
            pad_token_id=0,
        )
    )


def _llama(vocab: int, context: int, width: int, layers: int) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    return LlamaForCausalLM(
        LlamaConfig(
            vocab_size=vocab,
            hidden_size=width,
            intermediate_size=2 * width,
            num_hidden_layers=layers,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=context,
            bos_token_id=0,
            eos_token_id=0,
            pad_token_id=0,
            tie_word_embeddings=True,
        )
    )


ARCHITECTURES: dict[str, Callable[[int, int, int, int], Any]] = {"gpt2": _gpt2, "llama": _llama}


def make_tiny_model(
    directory: str | Path,
    *,
    arch: str = "gpt2",
    context: int = 64,
    width: int = 16,
    layers: int = 2,
    vocab_size: int = 400,
    texts: list[str] | None = None,
    seed: int = 0,
) -> Path:
    """Build and ``save_pretrained`` a tiny causal LM with its own tokenizer."""
    import torch

    torch.manual_seed(seed)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tok = train_tokenizer(texts or synthetic_records(400, seed=seed), vocab_size)
    model = ARCHITECTURES[arch](len(tok), context, width, layers)
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return out
