"""A suspect model directory, opened lazily: check first, read tensors one at a time.

A model under suspicion may be large, half-copied or not a model at all. ``open``
checks the layout (config.json, weight files, safetensors headers against file sizes)
before anything is loaded, and ``tensor`` reads one tensor through safetensors'
memory map, so a test that needs three matrices never loads the other three hundred.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from watermark.errors import ModelDirError, NotApplicableError


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass
class ModelDir:
    """An opened (not loaded) Hugging Face model directory."""

    path: Path
    config: dict[str, Any]
    weight_files: list[Path]
    fmt: str  # "safetensors" | "bin"
    _index: dict[str, Path] = field(default_factory=dict, repr=False)
    _bin_cache: dict[Path, dict[str, torch.Tensor]] = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, path: str | Path) -> ModelDir:
        path = Path(path)
        if not path.is_dir():
            raise ModelDirError(f"{path} is not a directory (give a Hugging Face model directory)")
        cfg_path = path / "config.json"
        if not cfg_path.is_file():
            raise ModelDirError(f"{path} is not a model directory: no config.json")
        try:
            config = json.loads(cfg_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelDirError(f"{cfg_path} is not valid JSON ({type(exc).__name__})") from None
        if not isinstance(config, dict):
            raise ModelDirError(f"{cfg_path} does not hold a JSON object")
        st = sorted(path.glob("*.safetensors"))
        bins = sorted(p for p in path.glob("*.bin") if p.name != "training_args.bin")
        if st:
            md = cls(path, config, st, "safetensors")
        elif bins:
            md = cls(path, config, bins, "bin")
        else:
            raise ModelDirError(f"{path} has a config.json but no weights (*.safetensors or *.bin)")
        md._build_index()
        return md

    def _build_index(self) -> None:
        if self.fmt == "safetensors":
            from safetensors import safe_open

            for f in self.weight_files:
                _check_safetensors_size(f)
                try:
                    with safe_open(f, framework="pt") as fh:
                        for name in fh.keys():
                            self._index[name] = f
                except Exception as exc:  # safetensors raises its own error types
                    raise ModelDirError(f"{f.name} is corrupt or truncated ({exc})") from None
        else:
            for f in self.weight_files:
                for name in self._load_bin(f):
                    self._index[name] = f
        if not self._index:
            raise ModelDirError(f"{self.path}: the weight files hold no tensors")

    def _load_bin(self, f: Path) -> dict[str, torch.Tensor]:
        if f not in self._bin_cache:
            try:
                sd = torch.load(f, map_location="cpu", mmap=True, weights_only=True)
            except Exception as exc:
                raise ModelDirError(
                    f"{f.name} is not a loadable PyTorch state dict ({type(exc).__name__})"
                ) from None
            if not isinstance(sd, dict):
                raise ModelDirError(f"{f.name} does not hold a state dict")
            self._bin_cache[f] = sd
        return self._bin_cache[f]

    @property
    def model_type(self) -> str:
        return str(self.config.get("model_type", "unknown"))

    def names(self) -> list[str]:
        return list(self._index)

    def shape(self, name: str) -> tuple[int, ...]:
        if self.fmt == "safetensors":
            from safetensors import safe_open

            with safe_open(self._index[name], framework="pt") as fh:
                return tuple(fh.get_slice(name).get_shape())
        return tuple(self._load_bin(self._index[name])[name].shape)

    def tensor(self, name: str) -> torch.Tensor:
        """One tensor as float32 on CPU."""
        if name not in self._index:
            raise KeyError(name)
        if self.fmt == "safetensors":
            from safetensors import safe_open

            with safe_open(self._index[name], framework="pt") as fh:
                return fh.get_tensor(name).float()
        return self._load_bin(self._index[name])[name].float()

    def file_hashes(self) -> dict[str, str]:
        """SHA-256 of every regular file in the directory (the evidence a report refers to)."""
        return {
            str(p.relative_to(self.path)): sha256_file(p) for p in sorted(self.path.rglob("*")) if p.is_file()
        }

    def has_tokenizer(self) -> bool:
        return any(
            (self.path / n).is_file() for n in ("tokenizer.json", "tokenizer_config.json", "vocab.json")
        )

    def load_causal_lm(self, tokenizer: bool = True) -> tuple[Any, Any]:
        """The model and tokenizer for black-box tests; NotApplicableError if it is not a causal LM.

        ``tokenizer=False`` loads the model alone (the functional test needs token ids only)
        and returns None in the tokenizer's place.
        """
        if tokenizer and not self.has_tokenizer():
            raise NotApplicableError("no tokenizer in the directory")
        archs = self.config.get("architectures") or []
        if archs and not any(a.endswith("ForCausalLM") or a.endswith("LMHeadModel") for a in archs):
            raise NotApplicableError(f"not a causal language model ({', '.join(archs)})")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(self.path) if tokenizer else None
            model = AutoModelForCausalLM.from_pretrained(self.path, dtype=torch.float32)
        except (ValueError, OSError, KeyError) as exc:
            raise NotApplicableError(
                f"transformers cannot load it as a causal LM ({type(exc).__name__})"
            ) from None
        model.eval()
        return model, tok


def _check_safetensors_size(f: Path) -> None:
    """A safetensors file declares its data length in the header; a short file is truncated."""
    size = f.stat().st_size
    try:
        with f.open("rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            if n <= 0 or 8 + n > size:
                raise ModelDirError(f"{f.name} is truncated (header runs past the end of the file)")
            header = json.loads(fh.read(n))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelDirError(f"{f.name} has a corrupt header ({type(exc).__name__})") from None
    end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    if 8 + n + end > size:
        raise ModelDirError(
            f"{f.name} is truncated: the header promises {8 + n + end} bytes, the file has {size}"
        )
