"""The bench's fixed parameters: steps, targets and command-line defaults.

Both sides need them: the command that measures (run.py, scale.py) and the renderers that turn
results.json into BENCHMARKS.md (report.py and the modules it uses). Kept apart from both so rendering
never imports the measuring command, and the two cannot drift apart on, say, which steps are data steps.
"""

from __future__ import annotations

DATA_STEPS = ("ingest", "refine", "features", "kpis")
MODEL_STEPS = ("train_churn", "train_pricing", "score")
TARGETS = {"ingest_ratio_min": 0.7, "growth_max": 1.1, "incremental_max": 1.5, "kpis_vs_duckdb_max": 3.0}

# The scale part's datasets: event counts (one dataset each) and the days they span.
DEFAULT_EVENTS = "1000000,10000000"
DEFAULT_DAYS = 120

# Recorded into results.json ("defaults") so an old file re-renders with the defaults of its own run.
DEFAULTS = {
    "customers": 300,
    "days": 28,
    "sizes": "1,2,4",
    "seed": 42,
    "bad_rate": 0.002,
    "repeat": 1,
    "history_days": 365,
    "events": DEFAULT_EVENTS,
}
