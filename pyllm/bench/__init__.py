"""Benchmarks: ``python -m pyllm.bench parser [--json]``."""
