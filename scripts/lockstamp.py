"""The fingerprint of the dependency lists in pyproject.toml that requirements/lock.txt was made from.

``python scripts/lockstamp.py`` prints the stamp line (scripts/lock appends it to the lock);
``python scripts/lockstamp.py --check`` exits 1 with a message when the lock is stale.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"
EXTRAS = ("ml", "dev")
PREFIX = "# pyproject-dependencies-sha256: "


def fingerprint() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {
        "dependencies": project.get("dependencies", []),
        **{e: project.get("optional-dependencies", {}).get(e, []) for e in EXTRAS},
    }
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()


def main(argv: list[str]) -> int:
    if "--check" not in argv:
        print(PREFIX + fingerprint())
        return 0
    lines = LOCK.read_text(encoding="utf-8").splitlines() if LOCK.exists() else []
    stamps = [ln.removeprefix(PREFIX) for ln in lines if ln.startswith(PREFIX)]
    if stamps and stamps[-1] == fingerprint():
        return 0
    print(
        f"{LOCK.relative_to(ROOT)} was not made from the dependencies now in pyproject.toml: "
        "run `make lock` and commit the new lock",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
