"""Tiny models and tokenizers built locally, for tests and the evaluation (no hub downloads).

The corpus is the docstrings of standard-library modules: real English, present on
every machine, identical for a given Python version.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import torch

_CORPUS_MODULES = (
    "json",
    "os",
    "collections",
    "argparse",
    "logging",
    "pathlib",
    "subprocess",
    "threading",
    "asyncio",
    "dataclasses",
    "functools",
    "itertools",
    "re",
    "socket",
    "email",
    "http.client",
    "urllib.request",
    "unittest",
    "typing",
    "decimal",
    "fractions",
    "statistics",
    "random",
    "csv",
    "sqlite3",
    "zipfile",
    "tarfile",
    "shutil",
    "tempfile",
    "textwrap",
    "string",
    "heapq",
)


def corpus() -> list[str]:
    """Paragraphs of English from stdlib docstrings."""
    texts: list[str] = []
    for name in _CORPUS_MODULES:
        mod = importlib.import_module(name)
        docs = [mod.__doc__ or ""] + [
            getattr(getattr(mod, a), "__doc__", "") or "" for a in sorted(dir(mod))[:60]
        ]
        for d in docs:
            if not isinstance(d, str):
                continue
            for para in d.split("\n\n"):
                para = " ".join(para.split())
                if len(para) > 80 and para.isascii():
                    texts.append(para)
    return texts


def train_tokenizer(texts: list[str], vocab_size: int = 512) -> Any:
    """A byte-level BPE tokenizer trained in a fraction of a second."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
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
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )


def tiny_llama(
    vocab_size: int, seed: int, hidden: int = 64, layers: int = 2, intermediate: int = 128, heads: int = 4
) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=256,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
        tie_word_embeddings=False,
    )
    return LlamaForCausalLM(cfg).eval()


def tiny_qwen2(
    vocab_size: int, seed: int, hidden: int = 64, layers: int = 2, intermediate: int = 128, heads: int = 4
) -> Any:
    """Qwen2: Llama's layout plus q/k/v biases, tied embeddings."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    cfg = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=256,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
        tie_word_embeddings=True,
    )
    return Qwen2ForCausalLM(cfg).eval()


def tiny_gpt2(vocab_size: int, seed: int, hidden: int = 64, layers: int = 2) -> Any:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    cfg = GPT2Config(
        vocab_size=vocab_size,
        n_embd=hidden,
        n_layer=layers,
        n_head=4,
        n_positions=256,
        bos_token_id=0,
        eos_token_id=0,
    )
    return GPT2LMHeadModel(cfg).eval()


def train_lm(
    model: Any,
    tokenizer: Any,
    texts: list[str],
    steps: int,
    seed: int,
    lr: float = 3e-3,
    seq_len: int = 64,
    batch: int = 8,
) -> Any:
    """A short language-model training run (an 'independently trained' model for the evaluation)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.tensor([i for t in texts for i in tokenizer.encode(t) + [tokenizer.eos_token_id]])
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        starts = torch.randint(0, len(ids) - seq_len - 1, (batch,), generator=g)
        x = torch.stack([ids[s : s + seq_len] for s in starts])
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def save(model: Any, tokenizer: Any, out: str | Path) -> Path:
    out = Path(out)
    model.save_pretrained(out)
    if tokenizer is not None:
        tokenizer.save_pretrained(out)
    return out
