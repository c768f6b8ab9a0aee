"""The project's benchmarks: `python -m bench.run` (make bench) and the apps' own scripts."""
