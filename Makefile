# The two commands: `make demo` and `make test`. Both install what is missing first.
SHELL := /bin/bash
VENV  := .venv/bin

.PHONY: demo test deps lint typecheck pytest clean

demo: deps
	$(VENV)/fieldwatch demo

test: deps lint typecheck pytest

deps:
	@scripts/install-deps.sh

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/lint-imports

# Two runs: CPython's typeshed (pyproject.toml) and, for the code that goes onto a
# board, MicroPython's stubs laid out as a typeshed from the locked stub packages.
typecheck:
	$(VENV)/mypy
	$(VENV)/python firmware_py/host/mypy_typeshed.py .venv/micropython-typeshed
	$(VENV)/mypy --config-file firmware_py/mypy.ini

pytest:
	$(VENV)/pytest

clean:
	rm -rf .venv .tools node_modules .demo .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
