"""Markdown of the throughput part (on request, small data): ingest against plain Spark writing Parquet
on the same events files, and where ingest's extra time goes."""

from __future__ import annotations

from bench.markdown import (
    BREAKDOWN_HEADERS,
    BREAKDOWN_NOTE,
    MB,
    breakdown_rows,
    driver_share,
    fmt,
    nested_table,
    operations_table,
    process_of,
    stages_table,
    table,
    top_ops_sentence,
    verdict,
)

HEADERS = [
    "",
    "job s (each run)",
    "process s (with startup)",
    "events/s",
    "events/s per core",
    "MB/s per core (gzip)",
    "MB/s per core (uncompressed)",
    "cores",
]


def render_throughput(w, results: dict, s: dict) -> None:
    w("## 1. Bronze ingestion throughput")
    w("")
    tp, t = results.get("throughput"), s.get("throughput")
    if not tp or not t:
        w("_Not run._")
        w("")
        return
    ds = results["datasets"][tp["dataset"]]
    ev = ds["events"]
    w(
        f"Dataset x{tp['size']} ({ds['customers']} customers, {ds['days']} days): {ev['lines']:,} event lines "
        f"in {ev['files']} gzip files, {ev['gz_bytes'] / MB:.1f} MB as stored, {ev['raw_bytes'] / MB:.1f} MB "
        "uncompressed (all lines, bad records and duplicates included; one file is truncated on purpose). "
        "**ingest** = `jobs/ingest.py --source events` into an empty lake (validation, quarantine, "
        "deduplication, bronze/events partitioned by event_date, audit; Delta). **baseline** = "
        "`bench/baseline_parquet.py`: `spark.read.schema(<the events' declared fields and types>).json(...)` "
        "of the same files (corrupt files skipped), written as Parquet partitioned by event_date, same "
        "session settings. Fastest of the runs; MB = 10^6 bytes; per core = divided by Spark's cores."
    )
    w("")
    w(table(HEADERS, [_variant_row(t, variant) for variant in ("ingest", "baseline")]))
    w("")
    if t.get("ratio") is not None:
        w(f"**Ratio ingest / baseline: {t['ratio']:.2f} x** (target >= {t['target']}): {verdict(t['pass'])}.")
        w("")
    _render_marginal(w, results, tp, t.get("marginal"))
    _render_where_time_goes(w, results, t)


def _variant_row(t: dict, variant: str) -> list:
    r = t.get(variant)
    if not r:
        return [variant, "failed", "", "", "", "", "", ""]
    return [
        variant,
        ", ".join(fmt(x) for x in r["runs"]),
        fmt(r["process_seconds"]),
        fmt(r["events_per_s"], 0),
        fmt(r["events_per_s_per_core"], 0),
        fmt(r["gz_mb_per_s_per_core"], 2),
        fmt(r["raw_mb_per_s_per_core"], 2),
        r["cores"],
    ]


def _render_marginal(w, results: dict, tp: dict, mt: dict | None) -> None:
    if mt and mt.get("ratio") is not None:
        small = results["datasets"][mt["small_dataset"]]
        w(
            f"Marginal throughput, per-run fixed costs cancelled: the {mt['extra_events']:,} extra event lines "
            f"of x{tp['size']} over {mt['small_dataset']} ({small['events']['lines']:,} lines) cost ingest "
            f"{mt['ingest']['extra_seconds']:.1f} s more ({fmt(mt['ingest']['events_per_s'], 0)} events/s) and "
            f"the baseline {mt['baseline']['extra_seconds']:.1f} s more "
            f"({fmt(mt['baseline']['events_per_s'], 0)} events/s): ratio {mt['ratio']:.2f} x (informative: "
            "the target applies to whole runs; with small datasets this difference is noisy)."
        )
        w("")
    elif mt:
        w(
            f"Marginal throughput (x{tp['size']} minus {mt['small_dataset']}): not meaningful in this run "
            "(a run on the larger dataset was not slower than on the smaller one: noise exceeds the "
            "data-dependent cost)."
        )
        w("")


def _render_where_time_goes(w, results: dict, t: dict) -> None:
    ing, base = t.get("ingest"), t.get("baseline")
    el_i = process_of(results, ing.get("app_id")).get("eventlog", {}) if ing else {}
    el_b = process_of(results, base.get("app_id")).get("eventlog", {}) if base else {}
    w("### Where the time goes" + (" (target missed)" if t.get("pass") is False else ""))
    w("")
    pairs = [
        ("ingest", process_of(results, (ing or {}).get("app_id")), el_i),
        ("baseline", process_of(results, (base or {}).get("app_id")), el_b),
    ]
    w(table(BREAKDOWN_HEADERS, breakdown_rows(pairs)))
    w("")
    w(BREAKDOWN_NOTE)
    w("")
    if t.get("pass") is False and el_i and el_b and ing and base:
        extra = ing["job_seconds"] - base["job_seconds"]
        w(
            f"Ingest takes {extra:.1f} s more than the baseline. It runs {el_i.get('jobs')} Spark jobs against "
            f"the baseline's {el_b.get('jobs')} (task time {el_i.get('task_s', 0):.1f} s vs "
            f"{el_b.get('task_s', 0):.1f} s); {driver_share(ing, el_i)}. Its costliest operations: "
            f"{top_ops_sentence(el_i)}."
        )
        w("")
    w("Ingest's operations:")
    w("")
    w(operations_table(el_i))
    w("")
    nested = nested_table(el_i)
    if nested:
        w(nested)
        w("")
    stages = stages_table(el_i)
    if stages:
        w("Ingest's costliest stages (executor run time summed over their tasks):")
        w("")
        w(stages)
        w("")
    w("Baseline's operations:")
    w("")
    w(operations_table(el_b, 4))
    w("")
