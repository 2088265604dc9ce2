"""Benchmarks: ``python -m pyllm.bench <name> [--json]``."""
