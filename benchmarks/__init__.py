"""portrait_bench: latency benchmarks that emulate phone CPU / NNAPI / GPU / Core ML targets.

CLI ``portrait-bench``; library entry points :func:`portrait_bench.api.run_benchmark` and
:func:`portrait_bench.api.check_budget`; pytest fixture ``portrait_budget``. See docs/benchmarks.md.
"""
