.PHONY: setup demo test lint bench lock

setup:
	./scripts/setup

# One command: set up, start a dev model server and the gateway on loopback, send a request with PII.
demo: setup
	./scripts/setup-chromium
	.venv/bin/python scripts/demo.py

# One command: the whole test suite (sets up first if needed).
test: setup
	./scripts/setup-tfp
	./scripts/setup-chromium
	./scripts/setup-litellm
	./scripts/setup-spark
	./scripts/setup-nginx
	./scripts/services
	.venv/bin/python -m pytest -q -x --durations=15

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

# Refresh requirements/lock.txt (hashes) after changing dependencies in pyproject.toml; commit it.
lock:
	./scripts/lock

bench: setup
	.venv/bin/python bench/run_all.py
