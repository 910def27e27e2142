"""lakepulse's benchmark command (`make bench`, `python -m bench`): see bench/run.py and BENCHMARKS.md."""
