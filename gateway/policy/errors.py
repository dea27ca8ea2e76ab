"""Errors of the policy package, translated into gateway errors at the plugin border.

    PolicyError
    ├── BundleError           a bundle cannot be read (missing dir, bad JSON, bad manifest)
    ├── PolicyCompileError    the Rego does not parse or fails analysis
    ├── PolicyEvalError       a rule raised at run time (division by zero, conflicting values)
    ├── PolicyTimeout         no decision within the decision timeout
    └── EngineUnavailable     the OPA server cannot be reached

Messages name files and line numbers, never input values: an engine's own
error text can quote input values, so it is reduced to its location and the
kind of error before it reaches a log line.
"""

from __future__ import annotations

import re


class PolicyError(Exception):
    """Base class: the policy machinery could not produce a decision."""


class BundleError(PolicyError):
    pass


class PolicyCompileError(PolicyError):
    pass


class PolicyEvalError(PolicyError):
    pass


class PolicyTimeout(PolicyError):
    pass


class EngineUnavailable(PolicyError):
    pass


_LOCATION = re.compile(r"-->\s*(\S+:\d+:\d+)")
_ERROR_LINE = re.compile(r"^error:\s*(.+)$", re.MULTILINE)
_QUOTED = re.compile(r"`[^`]*`|\"[^\"]*\"|'[^']*'")


def scrub_engine_message(text: str, *, limit: int = 200) -> str:
    """Reduce an engine error to 'file:line:col: kind of error' without quoted values.

    regorus quotes the offending value (``Got `"alice@example.com"` instead``)
    and appends a Rust backtrace when RUST_BACKTRACE is set; neither may reach
    a log line or a client.
    """
    text = text.split("Stack backtrace:", 1)[0]
    loc = _LOCATION.search(text)
    err = _ERROR_LINE.search(text)
    summary = err.group(1) if err else text.strip().splitlines()[0] if text.strip() else "engine error"
    summary = _QUOTED.sub("<value>", summary).strip()
    out = f"{loc.group(1)}: {summary}" if loc else summary
    return out[:limit]
