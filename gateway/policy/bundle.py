"""An OPA bundle on disk: ``.rego`` modules, ``data.json`` files and a ``.manifest``.

The layout is OPA's own (https://www.openpolicyagent.org/docs/management-bundles/):
a ``data.json`` in directory ``a/b/`` is the document ``data.a.b``; every
``.rego`` file is a module. The same directory therefore serves the embedded
engine and ``opa run --server policies/`` unchanged.

The revision that decisions and audit records carry is the manifest's revision
plus a digest of the files, so an edited bundle whose author forgot to bump the
revision is still told apart.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.policy.errors import BundleError

MANIFEST = ".manifest"
MAX_FILE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Bundle:
    """The bundle's files, read once; engines compile from this, never from disk."""

    root: Path
    modules: dict[str, str]  # path relative to root -> Rego source
    data: dict[str, Any]
    manifest: dict[str, Any] = field(default_factory=dict)
    digest: str = ""

    @property
    def revision(self) -> str:
        rev = str(self.manifest.get("revision") or "unversioned")
        return f"{rev}+{self.digest[:12]}"

    @property
    def data_json(self) -> str:
        return json.dumps(self.data, separators=(",", ":"), sort_keys=True)

    def test_modules(self) -> dict[str, str]:
        return {p: s for p, s in self.modules.items() if p.endswith("_test.rego")}


def default_bundle_dir() -> Path:
    """The repository's ``policies/``, found relative to this package (works installed editable).

    A regular (non-editable) install does not carry ``policies/``; set
    ``policy.bundle_dir`` (or ``CG_POLICY__BUNDLE_DIR``) then.
    """
    return Path(__file__).resolve().parents[2] / "policies"


def _bundle_files(root: Path) -> list[Path]:
    files = [
        p
        for p in root.rglob("*")
        if p.is_file() and (p.suffix == ".rego" or p.name in ("data.json", MANIFEST))
    ]
    return sorted(files)


def signature(root: str | Path) -> tuple[tuple[str, int, int], ...]:
    """A cheap fingerprint (name, mtime_ns, size) of the bundle's files, for the reload watcher."""
    root = Path(root)
    out = []
    try:
        for p in _bundle_files(root):
            st = p.stat()
            out.append((str(p.relative_to(root)), st.st_mtime_ns, st.st_size))
    except OSError:
        return ()
    return tuple(out)


def _nest(path_parts: tuple[str, ...], doc: Any) -> dict[str, Any]:
    """``doc`` under the keys ``path_parts`` (not empty): ("a", "b"), doc -> {"a": {"b": doc}}."""
    node: dict[str, Any] = {path_parts[-1]: doc}
    for part in reversed(path_parts[:-1]):
        node = {part: node}
    return node


def _merge(into: dict[str, Any], other: dict[str, Any], where: str) -> None:
    for k, v in other.items():
        if k in into and isinstance(into[k], dict) and isinstance(v, dict):
            _merge(into[k], v, f"{where}.{k}")
        elif k in into:
            raise BundleError(f"data conflict at data{where}.{k}: defined by two data.json files")
        else:
            into[k] = v


def load_bundle(root: str | Path) -> Bundle:
    """Read a bundle directory; raise BundleError naming the file that is wrong."""
    root = Path(root)
    if not root.is_dir():
        raise BundleError(f"policy bundle directory {root} does not exist")
    modules: dict[str, str] = {}
    data: dict[str, Any] = {}
    manifest: dict[str, Any] = {}
    h = hashlib.sha256()
    for p in _bundle_files(root):
        rel = p.relative_to(root)
        if p.stat().st_size > MAX_FILE_BYTES:
            raise BundleError(f"{rel}: larger than {MAX_FILE_BYTES} bytes")
        try:
            raw = p.read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BundleError(f"{rel}: cannot be read as UTF-8 ({type(exc).__name__})") from None
        h.update(str(rel).encode() + b"\0" + raw + b"\0")
        if p.suffix == ".rego":
            modules[rel.as_posix()] = text
            continue
        try:
            doc = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise BundleError(f"{rel}: not valid JSON (line {exc.lineno}, column {exc.colno})") from None
        if p.name == MANIFEST:
            if not isinstance(doc, dict):
                raise BundleError(f"{rel}: the manifest must be a JSON object")
            manifest = doc
            continue
        if not isinstance(doc, dict) and rel.parent == Path("."):
            raise BundleError(f"{rel}: a data.json at the bundle root must hold an object")
        prefix = tuple(rel.parent.parts)
        _merge(data, _nest(prefix, doc) if prefix else doc, "")
    if not modules:
        raise BundleError(f"policy bundle {root} holds no .rego files")
    rego_version = manifest.get("rego_version", 1)
    if rego_version != 1:
        raise BundleError(f"{MANIFEST}: rego_version {rego_version!r} is not supported (Rego v1 only)")
    return Bundle(root=root, modules=modules, data=data, manifest=manifest, digest=h.hexdigest())
