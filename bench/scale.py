"""The scale part of the bench: the data steps at millions of events, against plain Spark and DuckDB.

For each size of `--events` (default 1M and 10M), one dataset is generated with `generate --events N`
(timed, reported apart: generation is not a product step), then each of these runs in its own fresh
process, one at a time, on one lake:

1. `ingest --source events`: the bronze ingestion of the events alone, the figure compared with the
   baseline (`bench/baseline_parquet.py`: plain Spark reading the same files with the declared schema
   and writing Parquet);
2. `ingest`: every other source (the events are ingested already, so only their files are new);
3. `refine`, `features`, `kpis`.

The data steps' cost is the sum of the five. Then DuckDB computes gold kpi_daily from the same silver
Parquet files (`bench/duckdb_kpis.py`, also a fresh process), the single-node tool a user would pick
instead, and the kpis job is compared with it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.landing import link_landing
from bench.reconcile import audit_totals, reconcile
from bench.records import ref
from lakepulse.config import load_config

SCALE_STEPS = (
    ("ingest events", "ingest", ("--source", "events")),
    ("ingest other sources", "ingest", ()),
    ("refine", "refine", ()),
    ("features", "features", ()),
    ("kpis", "kpis", ()),
)
ROOT = Path(__file__).resolve().parents[1]


def events_label(n: int) -> str:
    return f"{n / 1e6:g}M" if n >= 1_000_000 else f"{n / 1e3:g}k"


def run_scale(bench) -> None:
    """Runs the scale part on `bench` (a bench.run.Bench) and stores its records in bench.results."""
    a = bench.args
    sizes = {}
    for n in a.events_list:
        label = events_label(n)
        landing = bench.events_dataset(n, a.scale_days)
        home = bench.fresh_home("scale", label)
        link_landing(landing, home / "landing", lambda _s, _d: True)
        steps = {}
        for name, job, job_args in SCALE_STEPS:
            rec = bench.run_job("scale", f"{label}: {name}", job, home, job_args)
            steps[name] = ref(rec)
            if not rec["ok"]:
                break
        base_home = bench.fresh_home("scale", f"{label}-baseline")
        rec = bench.run_job(
            "scale",
            f"{label}: baseline (plain Spark JSON -> Parquet)",
            "baseline",
            base_home,
            ["--input", str(landing / "events")],
        )
        baseline = ref(rec)
        shutil.rmtree(base_home, ignore_errors=True)  # a second copy of the events, not needed again
        duck = (
            run_duckdb(bench, f"{label}: DuckDB kpi_daily", home) if steps.get("kpis", {}).get("ok") else None
        )
        landed = (bench.results["datasets"].get(f"events-{label}") or {}).get("records")
        sizes[label] = {
            "reconciliation": reconcile(landed, audit_totals(home)),
            "events_requested": n,
            "dataset": f"events-{label}",
            "home": str(home),
            "steps": steps,
            "baseline": baseline,
            "duckdb": duck,
        }
    bench.results["scale"] = {"sizes": sizes, "steps": [s[0] for s in SCALE_STEPS], "days": a.scale_days}


def run_duckdb(bench, label: str, home: Path) -> dict:
    """DuckDB's kpi_daily over the lake's silver tables, in a fresh process; its JSON line is the record."""
    silver = home / "lake" / "silver"
    period = _period(home)
    cmd = [
        sys.executable,
        "-m",
        "bench.duckdb_kpis",
        str(silver),
        "--first",
        period[0],
        "--last",
        period[1],
        "--horizon",
        str(period[2]),
        "--active",
        str(period[3]),
    ]
    log_path = bench.work / "logs" / f"scale-{label.replace(' ', '_').replace(':', '')}.log"
    bench.log(f"scale: {label} ...")
    started = time.monotonic()
    with log_path.open("w", encoding="utf-8") as log_file:
        done = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=log_file, text=True, check=False)
    wall = time.monotonic() - started
    record: dict = {"label": label, "process_seconds": round(wall, 3), "exit_code": done.returncode}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode == 0 and lines:
        record.update(json.loads(lines[-1]))
        record["ok"] = True
        bench.log(f"scale: {label}: {record.get('seconds', 0):.1f} s in DuckDB (process {wall:.1f} s)")
    else:
        record["ok"] = False
        bench.failures.append(f"scale: {label} (exit {done.returncode}, log {log_path})")
        bench.log(f"scale: {label}: FAILED (exit {done.returncode}); see {log_path}")
    return record


def _period(home: Path) -> tuple[str, str, int, int]:
    """The days kpi_daily covers in this lake (gold's own record of its runs) and the churn settings."""
    runs = home / "reports" / "gold" / "runs.jsonl"
    rows = [json.loads(x) for x in runs.read_text(encoding="utf-8").splitlines() if x.strip()]
    kpi = [r for r in rows if r.get("table") in ("gold/kpi_daily", "kpi_daily") and r.get("from")]
    first = min(r["from"] for r in kpi)
    last = max(r["to"] for r in kpi)
    config = load_config("local", environ={k: v for k, v in os.environ.items() if k != "LAKEPULSE_HOME"})
    return first, last, config.gold.churn_horizon_days, config.gold.churn_active_days
