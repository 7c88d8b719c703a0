"""Benchmark commands (``fieldwatch bench ...``); results go to docs/benchmarks.md."""
