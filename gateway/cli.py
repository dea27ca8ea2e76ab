"""The ``gateway`` console script: a lazy command table (``--help`` imports no server code)."""

from __future__ import annotations

from collections.abc import Sequence

from commandline import run, tool

COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("gateway.hosts.proxy.serve:main", "run the OpenAI-compatible compliance proxy"),
    "extproc": ("gateway.hosts.extproc.cli:main", "run the chain as an Envoy ext_proc gRPC server"),
    "token": ("gateway.auth.devkey:token_main", "mint a JWT with the local development key"),
    "dev-upstream": ("gateway.devupstream.server:main", "serve a small real model on CPU (OpenAI API)"),
    "policy": ("gateway.policy.cli:main", "test and evaluate the Rego policy bundle"),
}


CLI = tool("gateway", "OpenAI-compatible inference proxy with auth, limits, PII, policy and audit.", COMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    return run(CLI, argv)
