"""Markdown of the incremental part: one more day processed in a lake holding the history, against
the same day processed alone in a fresh lake, and where the difference goes."""

from __future__ import annotations

from bench.markdown import (
    BREAKDOWN_HEADERS,
    breakdown_rows,
    cost,
    driver_share,
    eventlog_of,
    fmt,
    operations_table,
    table,
    top_ops_sentence,
    verdict,
)
from bench.params import DATA_STEPS

RUNS = ("history", "new_day", "day_alone", "recompute")


def render_incremental(w, results: dict, s: dict) -> None:
    w("## 3. Incremental day")
    w("")
    inc, i = results.get("incremental"), s.get("incremental")
    if not inc or not i:
        w("_Not run._")
        w("")
        return
    n = inc["history_days"]
    w(
        f"Dataset x1. **History**: a lake whose landing holds the first {n} days of every source, processed "
        f"by ingest, refine, features and kpis. **New day**: the landing files of {inc['day']} are added and "
        "the same four jobs run again, incrementally (new files only, new batches only, new gold days only). "
        f"**That day alone**: a fresh lake whose landing holds only {inc['day']}'s files, plus every "
        "customers and prices folder up to that day (those feeds hold changes, so a day cannot be read "
        "without their earlier folders), processed by the same four jobs: the day's records with no history "
        f"to deduplicate against, merge into or look back over. **Recompute**: all {n + 1} days from scratch "
        f"in a fresh lake ({inc['recompute_from']})."
    )
    w("")
    headers = [
        "step",
        f"history ({n} days) s",
        "new day s",
        "that day alone s",
        f"recompute {n + 1} days s",
        "new day / alone",
    ]
    w(table(headers, _step_rows(inc, i)))
    w("")
    w(
        f"New day / that day alone: **{fmt(i['ratio'], 2, ' x')}** (target <= {i['target']}): "
        f"{verdict(i['pass'])}. New day / recompute everything: {fmt(i['vs_recompute'], 2, ' x')}."
    )
    w("")
    _render_where_time_goes(w, results, inc, i)
    _render_gold_reads(w, inc.get("gold_reads") or {})


def _step_rows(inc: dict, i: dict) -> list[list]:
    rows = []
    for step in DATA_STEPS:
        row = [step]
        for key in RUNS:
            ref = inc[key].get(step)
            row.append(fmt(ref["job_seconds"]) if ref and ref.get("ok") else ("failed" if ref else "–"))
        new, alone = inc["new_day"].get(step), inc["day_alone"].get(step)
        ok = new and alone and new.get("ok") and alone.get("ok")
        row.append(fmt(new["job_seconds"] / alone["job_seconds"], 2, " x") if ok else "–")
        rows.append(row)
    rows.append(
        [
            "**total**",
            f"**{fmt(i['history_seconds'])}**",
            f"**{fmt(i['new_day_seconds'])}**",
            f"**{fmt(i['day_alone_seconds'])}**",
            f"**{fmt(i['recompute_seconds'])}**",
            f"**{fmt(i['ratio'], 2, ' x')}**",
        ]
    )
    rows.append(
        ["total, JVM CPU s"]
        + [fmt(cost(inc[k], key="jvm_cpu_seconds")) for k in RUNS]
        + [fmt(i.get("ratio_cpu"), 2, " x")]
    )
    return rows


def _render_where_time_goes(w, results: dict, inc: dict, i: dict) -> None:
    w("### Where the time goes" + (" (target missed)" if i.get("pass") is False else ""))
    w("")
    pairs = []
    for step in DATA_STEPS:
        for key, name in (("new_day", "new day"), ("day_alone", "alone")):
            ref = inc[key].get(step)
            if ref:
                pairs.append((f"{step} {name}", ref, eventlog_of(results, ref)))
    w(table(BREAKDOWN_HEADERS, breakdown_rows(pairs)))
    w("")
    if i.get("pass") is not False:
        return
    gaps = []
    for step in DATA_STEPS:
        new, alone = inc["new_day"].get(step), inc["day_alone"].get(step)
        if new and alone and new.get("ok") and alone.get("ok"):
            gaps.append((new["job_seconds"] - alone["job_seconds"], step))
    gaps.sort(reverse=True)
    if gaps:
        d, step = gaps[0]
        el = eventlog_of(results, inc["new_day"][step])
        w(
            f"The largest excess is in **{step}** (+{d:.1f} s over the day alone); there "
            f"{driver_share(inc['new_day'][step], el)}; its costliest operations: {top_ops_sentence(el)}."
        )
        w("")
        w(f"{step} on the new day, operations:")
        w("")
        w(operations_table(el))
        w("")


def _render_gold_reads(w, reads: dict) -> None:
    """How many silver files each gold table read: the incremental day should read the day's files, not
    the history's."""
    if not (reads.get("new_day") or reads.get("day_alone")):
        return
    w("Gold's silver reads (`reports/gold/runs.jsonl`): files each gold table read to compute its days.")
    w("")
    rows = []
    alone = {r["table"]: r for r in reads.get("day_alone", [])}
    for r in reads.get("new_day", []):
        a = alone.get(r["table"], {})
        rows.append(
            [
                r["table"],
                f"{r['from'] or '–'}..{r['to'] or '–'}",
                r["files_read"],
                a.get("files_read", "–"),
                "; ".join(r["reads"]),
            ]
        )
    headers = ["gold table", "days computed", "files read (new day)", "files read (alone)", "reads (new day)"]
    w(table(headers, rows))
    w("")
