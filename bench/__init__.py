"""Benchmarks (`make bench`): cold start, warm overhead, memory, artifact sizes, against baselines."""
