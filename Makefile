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

typecheck:
	$(VENV)/mypy

pytest:
	$(VENV)/pytest

clean:
	rm -rf .venv .tools node_modules .demo .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
