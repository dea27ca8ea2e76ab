"""Deprecated: the exit codes and ``UsageError`` of the ``audit`` console script, kept for the code
that still imports them from here (``audit verify`` and other packages' commands on branches not yet
merged). New code: ``commandline`` outside audit, :mod:`audit.cli` inside. Delete once nothing imports it.
"""

from __future__ import annotations

from audit.cli import ERROR, FAILURE, INTERRUPTED, OK, UNSIGNED, UsageError

__all__ = ["ERROR", "FAILURE", "INTERRUPTED", "OK", "UNSIGNED", "UsageError"]
