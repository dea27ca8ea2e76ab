"""The engine interface: compile a bundle once, then evaluate documents and test rules."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from gateway.policy.bundle import Bundle


class _Undefined:
    """Rego's 'undefined': no rule produced a value. Distinct from JSON null."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Any = _Undefined()


def rule_path(path: str) -> str:
    """'gateway/authz/decision' (OPA Data API form) -> 'data.gateway.authz.decision'."""
    path = path.strip("/").replace("/", ".")
    return path if path.startswith("data.") or path == "data" else f"data.{path}"


class CompiledPolicy(ABC):
    """A bundle compiled by one engine. Built by ``Engine.compile`` in the start-up step."""

    engine_name: str = "?"

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle

    @property
    def revision(self) -> str:
        return self.bundle.revision

    @abstractmethod
    def evaluate_json(self, path: str, input_json: str | None) -> Any:
        """Evaluate the document at ``path`` for an input given as JSON text.

        Returns the value (sets as sorted lists), or UNDEFINED. Raises
        PolicyEvalError when a rule fails at run time.
        """

    @abstractmethod
    def run_test(self, package: str, rule: str) -> bool:
        """Evaluate one ``test_`` rule without input: True passes, False/undefined fails."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release native resources early (optional)."""


class Engine(ABC):
    name: str = "?"

    @abstractmethod
    def compile(
        self, bundle: Bundle, entrypoints: list[str], *, include_tests: bool = True
    ) -> CompiledPolicy:
        """Parse and analyse every module; raise PolicyCompileError naming file and line."""
