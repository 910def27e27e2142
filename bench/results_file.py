"""bench/results.json: written by the command, read back by `python -m bench.report`."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def portable(value):
    """`value` with every path under the project made relative to it: results.json is committed, and
    this machine's folders mean nothing elsewhere."""
    prefix = str(ROOT) + "/"
    if isinstance(value, str):
        return value.replace(prefix, "")
    if isinstance(value, list):
        return [portable(v) for v in value]
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    return value


def write_results(results: dict, path: Path) -> None:
    path.write_text(json.dumps(portable(results), indent=1, sort_keys=True) + "\n", encoding="utf-8")


def reanalyse(results: dict) -> int:
    """Recomputes each process's event-log summary from its log (when still on disk); returns how many."""
    from bench import eventlog

    done = 0
    for proc in results.get("processes", []):
        path = proc.get("eventlog_path")
        if path and not Path(path).is_absolute():
            path = str(ROOT / path)  # results.json keeps paths under the project relative (`portable`)
        if path and Path(path).exists() and proc.get("ready_epoch_ms"):
            window = (proc["ready_epoch_ms"], proc["done_epoch_ms"])
            proc["eventlog"] = eventlog.summarize(path, window).as_dict()
            done += 1
    return done


def reconcile_again(results: dict) -> int:
    """Recomputes each scale size's reconciliation from its lake (when still on disk); returns how many."""
    from bench.reconcile import audit_totals, reconcile

    done = 0
    for label, size in ((results.get("scale") or {}).get("sizes") or {}).items():
        home = size.get("home")
        if home and not Path(home).is_absolute():
            home = str(ROOT / home)
        audited = audit_totals(home) if home else None
        if audited is not None:
            landed = (results["datasets"].get(size.get("dataset") or f"events-{label}") or {}).get("records")
            size["reconciliation"] = reconcile(landed, audited)
            done += 1
    return done
