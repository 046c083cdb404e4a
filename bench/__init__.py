"""Benchmarks: `python -m bench` (or `make bench`) runs them all and writes docs/performance.md."""
