"""Load a Hugging Face causal LM directory and make it ready for Opacus.

Pitfalls handled here, once:

- tied embeddings: ghost clipping cannot handle a parameter used by two layers
  (``wte`` and ``lm_head`` in GPT-2); for ghost clipping the output head is untied
  (a copy of the embedding matrix) so both get their own per-sample norms.
- layers Opacus cannot train (BatchNorm, nn.LSTM/GRU/RNN, nn.MultiheadAttention) are
  found with Opacus's own validators and named by their path in the model.
- LoRA through peft: only the adapters are trainable; embeddings stay frozen, so the
  tied-embedding problem disappears, and the merged model is what gets saved.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from privacy.dp.errors import DPError, UnsupportedLayerError

# Files that make up a model's identity (weights, config, tokenizer).
_MODEL_SUFFIXES = (".safetensors", ".bin", ".json", ".model", ".txt", ".gguf", ".pt")
_EXCLUDE = {"privacy_report.json", "privacy_report.sig.json", "run.json", "audit_report.json"}


def hash_files(paths: Iterable[Path], root: Path) -> str:
    """sha256 over (relative path, file sha256) pairs, sorted: stable across copies."""
    h = hashlib.sha256()
    for p in sorted(paths, key=lambda x: x.relative_to(root).as_posix()):
        fh = hashlib.sha256()
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                fh.update(chunk)
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + fh.digest())
    return h.hexdigest()


def hash_model_dir(directory: str | Path) -> str:
    """The hash of a model directory's weights, config and tokenizer files."""
    root = Path(directory)
    files = [
        p for p in root.iterdir() if p.is_file() and p.suffix in _MODEL_SUFFIXES and p.name not in _EXCLUDE
    ]
    if not files:
        raise DPError(f"{root}: no model files to hash")
    return hash_files(files, root)


def load_model(directory: str | Path) -> tuple[Any, Any]:
    """Load (model, tokenizer) from a local directory; never reaches the hub."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root = Path(directory)
    if not (root / "config.json").is_file():
        raise DPError(f"{root}: not a Hugging Face model directory (no config.json)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(root), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(str(root), local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise DPError(f"{root}: cannot load model/tokenizer: {exc}") from exc
    if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.float(), tokenizer


def context_length(model: Any) -> int:
    cfg = model.config
    for attr in ("max_position_embeddings", "n_positions", "n_ctx", "max_sequence_length"):
        value = getattr(cfg, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return 1024


def unsupported_layers(model: Any) -> list[tuple[str, str]]:
    """(path, class name) of trainable layers Opacus's validators reject."""
    from opacus.validators import ModuleValidator

    found = []
    for name, module in model.named_modules():
        validator = ModuleValidator.VALIDATORS.get(type(module))
        if validator is None:
            continue
        trainable = any(p.requires_grad for p in module.parameters(recurse=True))
        if trainable and validator(module):
            found.append((name or "<root>", type(module).__name__))
    return found


def check_layers(model: Any) -> None:
    """Raise ``UnsupportedLayerError`` naming every layer DP-SGD cannot train."""
    bad = unsupported_layers(model)
    if bad:
        raise UnsupportedLayerError(bad)


def untie_embeddings(model: Any) -> bool:
    """Give the output head its own copy of the embedding matrix; True if it was tied."""
    import torch

    out = model.get_output_embeddings()
    emb = model.get_input_embeddings()
    if out is None or emb is None or out.weight is not emb.weight:
        return False
    out.weight = torch.nn.Parameter(emb.weight.detach().clone())
    model.config.tie_word_embeddings = False
    if hasattr(model, "_tied_weights_keys"):
        model._tied_weights_keys = []
    return True


def add_lora(model: Any, r: int, alpha: float | None = None) -> Any:
    """Wrap the model with LoRA adapters of rank ``r`` on every linear layer."""
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(
        r=r, lora_alpha=alpha or 2 * r, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"
    )
    return get_peft_model(model, cfg)


def base_model(model: Any) -> Any:
    """The transformers model inside peft/Opacus/DDP wrappers."""
    seen = 0
    while seen < 8:
        seen += 1
        if hasattr(model, "_module"):
            model = model._module
        elif hasattr(model, "module") and not hasattr(model, "config"):
            model = model.module
        else:
            break
    return model


def save_model(model: Any, tokenizer: Any, out: str | Path) -> None:
    """Save a plain transformers directory (LoRA adapters merged in)."""
    m = base_model(model)
    if hasattr(m, "merge_and_unload"):
        import copy

        m = copy.deepcopy(m).merge_and_unload()
    m.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
