"""Tests of portrait_bench (benchmarks/), one file per module."""
