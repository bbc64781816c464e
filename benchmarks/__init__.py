"""Benchmarks: ``python -m benchmarks [AREA ...]`` runs ``benchmarks/<area>_bench.py`` main()."""
