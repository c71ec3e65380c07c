# The two commands a newcomer needs: `make demo` and `make test`.
# Each bootstraps uv (into .tools/ when it is not on PATH) and installs what it needs.

SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
RUN := $(UV) run --frozen

.PHONY: demo test lint typecheck bench sync browsers clean console-screenshots readme

$(UV):
	@command -v $(PYTHON) >/dev/null || { echo "briefmail needs Python 3.11+ ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --all-groups
	@touch $@

sync: .venv/.synced

## demo: the main job on embedded defaults (SQLite, tasks in-process, outbox)
demo: sync
	$(RUN) briefmail demo

## test: lint, type-check and the whole test suite (needs PostgreSQL and Redis on localhost)
test: sync
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) pytest

lint: sync
	$(RUN) ruff check . && $(RUN) ruff format --check .

typecheck: sync
	$(RUN) mypy

bench: sync
	$(RUN) python bench/render.py
	$(RUN) python bench/audience.py
	$(RUN) python bench/send.py
	$(RUN) python bench/redirect.py
	$(RUN) python bench/redirect_path.py
	$(RUN) python bench/api.py
	$(RUN) python bench/archive.py
	$(RUN) python bench/tokens.py
	$(RUN) python bench/smtp_progress.py
	$(RUN) python bench/redirect_hot_link.py

## readme: regenerate the README's command reference from each command's --help
readme: sync
	$(RUN) python -m briefmail.cli.reference --write README.md

## console-screenshots: every console page at desktop width and 375 px, into docs/console/
console-screenshots: sync
	$(RUN) python docs/console/shoot.py

clean:
	rm -rf .venv .tools .pytest_cache .mypy_cache .ruff_cache briefmail-demo
