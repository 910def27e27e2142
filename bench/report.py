"""Turns the bench's raw figures (bench/results.json) into verdicts and BENCHMARKS.md.

    python -m bench.report [bench/results.json] [BENCHMARKS.md]   # re-renders without re-measuring

Definitions (also written into BENCHMARKS.md):
* cost of a job = its `job_seconds`: wall time from the job's start, with its SparkSession already up,
  to its end. JVM start and session creation (`startup_seconds`) are listed apart: they are the same
  for every job and size, and would flatter growth and throughput ratios.
* ingestion ratio = ingest's events/s / the baseline's events/s on the same files (= baseline seconds
  / ingest seconds); the fastest of `--repeat` runs of each counts.
* growth vs linear at size k = (cost at k / cost at the smallest size s) / (k / s), for the sum of the
  data steps; the target applies to the largest such figure. The marginal growth (cost added per size
  unit between the two largest sizes / the same between the two smallest) is shown beside it: fixed
  costs cancel out of it.
* incremental ratio = cost of the four data steps on the new day in the lake holding the history /
  their cost in a lake holding only that day (plus the customers and prices feeds up to that day).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.markdown import (
    BREAKDOWN_HEADERS,
    BREAKDOWN_NOTE,
    DATA_STEPS,
    MB,
    breakdown_rows,
    cost,
    driver_share,
    eventlog_of,
    fmt,
    gib_b,
    gib_kib,
    nested_table,
    operations_table,
    process_of,
    stages_table,
    table,
    top_ops_sentence,
    verdict,
    vs_linear,
)
from bench.scale_report import evaluate_scale, headline_lines, render_scale, target_rows

ROOT = Path(__file__).resolve().parents[1]


# --- verdicts -------------------------------------------------------------------------------------------


def _best(runs: list[dict], variant: str, size: int | None = None) -> dict | None:
    ok = [
        r
        for r in runs
        if r.get("variant") == variant and r.get("ok") and (size is None or r.get("size", size) == size)
    ]
    return min(ok, key=lambda r: r["job_seconds"]) if ok else None


def _marginal_throughput(results: dict, tp: dict) -> dict | None:
    """Events/s of the extra events between the small and the large dataset: per-run fixed costs cancel."""
    small_key = tp.get("small_dataset")
    if not small_key:
        return None
    large_n = results["datasets"][tp["dataset"]]["events"]["lines"]
    small_n = results["datasets"][small_key]["events"]["lines"]
    small_size = results["datasets"][small_key]["size"]
    out = {"small_dataset": small_key, "extra_events": large_n - small_n}
    for variant in ("ingest", "baseline"):
        big, small = _best(tp["runs"], variant, tp["size"]), _best(tp["runs"], variant, small_size)
        if big is None or small is None:
            return None
        extra = big["job_seconds"] - small["job_seconds"]
        out[variant] = {
            "small_seconds": small["job_seconds"],
            "extra_seconds": extra,
            "events_per_s": (large_n - small_n) / extra if extra > 0 else None,
        }
    i, b = out["ingest"]["events_per_s"], out["baseline"]["events_per_s"]
    out["ratio"] = i / b if i and b else None
    return out


def evaluate(results: dict) -> dict:
    targets = results.get("targets", {})
    out: dict = {}
    tp = results.get("throughput")
    if tp:
        ds = results["datasets"][tp["dataset"]]["events"]
        rows = {}
        for variant in ("ingest", "baseline"):
            best = _best(tp["runs"], variant, tp["size"])
            if best is None:
                continue
            secs, cores = best["job_seconds"], best.get("cores") or 1
            rows[variant] = {
                "app_id": best.get("app_id"),
                "job_seconds": secs,
                "process_seconds": best.get("process_seconds"),
                "cores": cores,
                "events_per_s": ds["lines"] / secs,
                "events_per_s_per_core": ds["lines"] / secs / cores,
                "gz_mb_per_s_per_core": ds["gz_bytes"] / MB / secs / cores,
                "raw_mb_per_s_per_core": ds["raw_bytes"] / MB / secs / cores,
                "runs": [
                    r["job_seconds"]
                    for r in tp["runs"]
                    if r.get("variant") == variant and r.get("ok") and r.get("size", tp["size"]) == tp["size"]
                ],
            }
        ratio = ratio_cpu = None
        if "ingest" in rows and "baseline" in rows:
            ratio = rows["ingest"]["events_per_s"] / rows["baseline"]["events_per_s"]
            cpu_i = _best(tp["runs"], "ingest", tp["size"]).get("jvm_cpu_seconds")
            cpu_b = _best(tp["runs"], "baseline", tp["size"]).get("jvm_cpu_seconds")
            ratio_cpu = cpu_b / cpu_i if cpu_i and cpu_b else None
        target = targets.get("ingest_ratio_min", 0.7)
        out["throughput"] = {
            **rows,
            "marginal": _marginal_throughput(results, tp),
            "ratio": ratio,
            "ratio_cpu": ratio_cpu,
            "target": target,
            "pass": None if ratio is None else ratio >= target,
        }
    gr = results.get("growth")
    if gr:
        sizes = sorted(int(k) for k in gr["sizes"])
        costs = {k: cost(gr["sizes"][str(k)]["steps"]) for k in sizes}
        valid = [k for k in sizes if costs[k] is not None]
        linear = vs_linear(costs)
        cpu_vs_linear = vs_linear(
            {k: cost(gr["sizes"][str(k)]["steps"], key="jvm_cpu_seconds") for k in sizes}
        )
        marginal = None
        if len(valid) >= 3:
            a, b, c, d = valid[0], valid[1], valid[-2], valid[-1]
            first = (costs[b] - costs[a]) / (b - a)
            last = (costs[d] - costs[c]) / (d - c)
            # Both slopes must be positive for a ratio to mean anything (else noise exceeds the data's cost).
            marginal = last / first if first > 0 and last > 0 else None
        fixed = per_unit = None
        if len(valid) >= 2:
            n = len(valid)
            mx = sum(valid) / n
            my = sum(costs[k] for k in valid) / n
            sxx = sum((k - mx) ** 2 for k in valid)
            per_unit = sum((k - mx) * (costs[k] - my) for k in valid) / sxx
            fixed = my - per_unit * mx
        worst = max(linear.values()) if linear else None
        target = targets.get("growth_max", 1.1)
        per_step = {}
        for step in gr.get("steps", DATA_STEPS):
            s = {k: gr["sizes"][str(k)]["steps"].get(step, {}) for k in valid}
            secs = {k: v["job_seconds"] for k, v in s.items() if v.get("ok")}
            if len(secs) >= 2:
                lo, hi = min(secs), max(secs)
                per_step[step] = (secs[hi] / secs[lo]) / (hi / lo)
        out["growth"] = {
            "sizes": sizes,
            "costs": {str(k): v for k, v in costs.items()},
            "vs_linear": {str(k): v for k, v in linear.items()},
            "worst_vs_linear": worst,
            "worst_vs_linear_cpu": max(cpu_vs_linear.values()) if cpu_vs_linear else None,
            "marginal": marginal,
            "fixed_seconds": fixed,
            "seconds_per_size_unit": per_unit,
            "per_step_vs_linear": per_step,
            "target": target,
            "pass": None if worst is None else worst <= target,
            "marginal_pass": None if marginal is None else marginal <= target,
        }
    inc = results.get("incremental")
    if inc:
        new, alone, full = cost(inc["new_day"]), cost(inc["day_alone"]), cost(inc["recompute"])
        ratio = new / alone if new is not None and alone else None
        cpu_new = cost(inc["new_day"], key="jvm_cpu_seconds")
        cpu_alone = cost(inc["day_alone"], key="jvm_cpu_seconds")
        target = targets.get("incremental_max", 1.5)
        out["incremental"] = {
            "new_day_seconds": new,
            "day_alone_seconds": alone,
            "recompute_seconds": full,
            "history_seconds": cost(inc["history"]),
            "ratio": ratio,
            "ratio_cpu": cpu_new / cpu_alone if cpu_new is not None and cpu_alone else None,
            "vs_recompute": new / full if new is not None and full else None,
            "target": target,
            "pass": None if ratio is None else ratio <= target,
        }
    scale = evaluate_scale(results)
    if scale:
        out["scale"] = scale
    procs = [p for p in results.get("processes", []) if p.get("jvm_peak_rss_kib")]
    if procs:
        top = max(procs, key=lambda p: p["jvm_peak_rss_kib"])
        heap = max(procs, key=lambda p: p.get("jvm_heap_peak_bytes") or 0)
        out["memory"] = {
            "max_jvm_rss_kib": top["jvm_peak_rss_kib"],
            "max_jvm_rss_at": f"{top['scenario']}: {top['label']}",
            "max_heap_bytes": heap.get("jvm_heap_peak_bytes"),
            "max_heap_at": f"{heap['scenario']}: {heap['label']}",
            "max_python_rss_kib": max(p.get("python_peak_rss_kib") or 0 for p in procs),
            "driver_memory": top.get("driver_memory"),
        }
    loads = [p.get("load_before") for p in results.get("processes", []) if p.get("load_before") is not None]
    out["max_load"] = max(loads) if loads else None
    return out


def headline(results: dict) -> list[str]:
    s = results.get("summary") or evaluate(results)
    lines = headline_lines(s.get("scale"))
    if "throughput" in s and s["throughput"].get("ratio") is not None:
        t = s["throughput"]
        lines.append(
            f"ingestion: {t['ratio']:.2f} x the plain-Spark baseline (target >= {t['target']}) {_plain(t['pass'])}"
        )
    if "growth" in s and s["growth"].get("worst_vs_linear") is not None:
        g = s["growth"]
        lines.append(
            f"growth: {g['worst_vs_linear']:.2f} x linear (target <= {g['target']}) {_plain(g['pass'])}; "
            f"marginal {fmt(g['marginal'], 2)}"
        )
    if "incremental" in s and s["incremental"].get("ratio") is not None:
        i = s["incremental"]
        lines.append(
            f"incremental day: {i['ratio']:.2f} x that day alone (target <= {i['target']}) {_plain(i['pass'])}"
        )
    if "memory" in s:
        lines.append(f"driver peak memory: JVM RSS {gib_kib(s['memory']['max_jvm_rss_kib'])}")
    for f in results.get("failures", []):
        lines.append(f"FAILED: {f}")
    return lines


def _plain(ok) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


# --- where the time goes --------------------------------------------------------------------------------


# --- render ---------------------------------------------------------------------------------------------


def render(results: dict, json_path: str = "bench/results.json") -> str:
    s = results.get("summary") or evaluate(results)
    m = results.get("machine", {})
    p = results.get("parameters", {})
    out: list[str] = []
    w = out.append
    w("# Benchmarks")
    w("")
    w(
        "Written by `bench/` (`make bench`) in one run on one machine; every figure below comes from that "
        f"run. Raw figures: `{_rel(json_path)}`. Re-run to refresh the whole file; do not edit it by hand."
    )
    w("")
    w(f"- **Run**: {results.get('started_at', '?')} to {results.get('finished_at', '?')} (UTC), "
      f"{fmt((results.get('elapsed_seconds') or 0) / 60)} min")  # fmt: skip
    w(f"- **Command**: `{results.get('command', '?')}`")
    w(f"- **Code**: commit {results.get('code', 'not recorded')}")
    w(
        f"- **Sizes**: 1x = {p.get('customers_1x')} customers over {p.get('days')} days (seed {p.get('seed')}, "
        f"bad-record rate {p.get('bad_record_rate')}); growth sizes {p.get('sizes')}; "
        f"{p.get('repeat')} run(s) of each throughput variant; model steps "
        f"{'timed' if p.get('models') else 'not timed (pass --models)'}"
    )
    w("")
    w("## Machine")
    w("")
    cpus = f"{m.get('cpus_available')} available of {m.get('logical_cpus')} logical"
    if m.get("cgroup_cpu_limit"):
        cpus += f", cgroup quota {m['cgroup_cpu_limit']}"
    disk = m.get("workdir_disk", {})
    w(
        table(
            ["", ""],
            [
                ["CPU", f"{m.get('cpu_model')} ({cpus})"],
                ["Memory", gib_b(m.get("memory_bytes"))],
                ["OS", f"{m.get('os')}, kernel {m.get('kernel')}"],
                ["Java", m.get("java") or "?"],
                ["Python", m.get("python")],
                ["Spark (pyspark)", m.get("pyspark")],
                [
                    "Delta Lake",
                    f"delta-spark {m.get('delta_spark')}; jars {', '.join(m.get('delta_jars') or [])}",
                ],
                [
                    "Spark master, driver memory",
                    f"{_first(results, 'master')}, {_first(results, 'driver_memory')}",
                ],
                ["Work folder disk", f"{disk.get('filesystem', '?')}, {gib_b(disk.get('free_bytes'))} free"],
                [
                    "Load average (1 min) at start / end",
                    f"{fmt((m.get('load_average_at_start') or [None])[0], 2)} / "
                    f"{fmt((m.get('load_average_at_end') or [None])[0], 2)}; highest before a measured "
                    f"process: {fmt(s.get('max_load'), 2)} (the bench's own JVMs included)",
                ],
                ["Other java processes at start", m.get("other_java_processes_at_start")],
                [
                    "LAKEPULSE__* overrides in the environment",
                    ", ".join(results.get("env_overrides") or []) or "none",
                ],
            ],
            "ll",
        )
    )
    w("")
    cpus_n = m.get("cpus_available") or 1
    # The bench's own JVM keeps the load near or above the CPU count (task, JIT and GC threads), so the
    # load during the run cannot tell an outside job from the bench: judge by the machine at the start
    # (another JVM, or a 1-minute load well above the CPU count; a job that just ended leaves some load).
    load_at_start = (m.get("load_average_at_start") or [0])[0] or 0
    if load_at_start > 2 * cpus_n or (m.get("other_java_processes_at_start") or 0) > 0:
        w(
            f"> **The machine was not quiet during this run** (load average {fmt(load_at_start, 1)} at the start on "
            f"{cpus_n} CPUs, {m.get('other_java_processes_at_start')} other java process(es) at start): every "
            "figure is slower and noisier than on an idle machine, and ratios between runs taken minutes "
            "apart carry that noise. Run `make bench` on a quiet machine for figures to quote."
        )
        w("")
    w("## Targets")
    w("")
    rows = target_rows(s.get("scale"))
    t = s.get("throughput")
    rows.append(
        [
            "Bronze ingestion throughput vs plain Spark (JSON -> Parquet)",
            ">= 0.7 x",
            "not run"
            if not t
            else (fmt(t.get("ratio"), 2, " x") if t.get("ratio") is not None else "failed"),
            verdict(t.get("pass")) if t else "–",
            fmt((t or {}).get("ratio_cpu"), 2, " x"),
        ]
    )
    g = s.get("growth")
    rows.append(
        [
            "Pipeline growth vs linear" + (f" ({', '.join(f'x{k}' for k in g['sizes'])})" if g else ""),
            "<= 1.1 x",
            "not run" if not g else fmt(g.get("worst_vs_linear"), 2, " x"),
            verdict(g.get("pass")) if g else "–",
            fmt((g or {}).get("worst_vs_linear_cpu"), 2, " x"),
        ]
    )
    if g and len(g.get("sizes", [])) >= 3:
        rows.append(
            [
                "… marginal growth (cost per size unit, largest sizes vs smallest; informative)",
                "<= 1.1 x",
                fmt(g.get("marginal"), 2, " x") if g.get("marginal") is not None else "not meaningful",
                verdict(g.get("marginal_pass")),
                "",
            ]
        )
    i = s.get("incremental")
    rows.append(
        [
            "Incremental day vs processing that day alone",
            "<= 1.5 x",
            "not run" if not i else fmt(i.get("ratio"), 2, " x"),
            verdict(i.get("pass")) if i else "–",
            fmt((i or {}).get("ratio_cpu"), 2, " x"),
        ]
    )
    mem = s.get("memory")
    rows.append(
        [
            "Driver peak memory (JVM resident set, any process)",
            "(reported)",
            gib_kib(mem["max_jvm_rss_kib"]) if mem else "–",
            "–",
            "",
        ]
    )
    w(table(["target", "goal", "measured", "verdict", "same ratio on JVM CPU time"], rows, "lllrr"))
    w("")
    w(
        "Verdicts use wall time. The last column computes the same ratio from the CPU time the job's JVM "
        "used: CPU time hardly changes when other processes compete for the cores, so where the two "
        "disagree a busy machine distorted the wall-time figure (CPU time leaves out waiting for I/O and "
        "idle driver time: a cross-check, not a replacement)."
    )
    w("")
    if results.get("failures"):
        w("**Failed processes** (their figures are missing below):")
        w("")
        for f in results["failures"]:
            w(f"- {f}")
        w("")
    w(
        "Cost of a job = its wall time once its SparkSession is up (JVM start and session creation, "
        "listed as *startup*, are the same for every job and size and are left out of the ratios). "
        "Every job runs in a fresh process (`bench/job.py`), one at a time, with a Spark event log."
    )
    w("")
    render_scale(w, results, s.get("scale"))
    _render_throughput(w, results, s)
    _render_growth(w, results, s)
    _render_incremental(w, results, s)
    _render_memory(w, results, s)
    w("## How to reproduce")
    w("")
    d = results.get("defaults")
    if not d:
        from bench.run import DEFAULTS as d  # older results.json without "defaults"
    w(
        f"`make bench` (or `.venv/bin/python -m bench`, options: `--help`). Defaults: 1x = "
        f"{d.get('customers')} customers, {d.get('days')} days, sizes {d.get('sizes')}, seed {d.get('seed')}, "
        f"{d.get('repeat')} run(s) per throughput variant, no model steps. `--scale 0.2` "
        "shrinks every size for a quick try; `--only growth` etc. runs one part (the others are then marked "
        "not run). Datasets, lakes, logs and event logs are kept in the work folder (default "
        "`build/bench/`); `python -m bench.eventlog <log>` summarises one event log, and "
        f"`python -m bench.report {_rel(json_path)}` re-renders this file from the raw figures."
    )
    w("")
    return "\n".join(out)


def _rel(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return path


def _first(results: dict, key: str):
    for proc in results.get("processes", []):
        if proc.get(key):
            return proc[key]
    return "?"


def _render_throughput(w, results: dict, s: dict) -> None:
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
    rows = []
    for variant in ("ingest", "baseline"):
        r = t.get(variant)
        if not r:
            rows.append([variant, "failed", "", "", "", "", "", ""])
            continue
        rows.append(
            [
                variant,
                ", ".join(fmt(x) for x in r["runs"]),
                fmt(r["process_seconds"]),
                fmt(r["events_per_s"], 0),
                fmt(r["events_per_s_per_core"], 0),
                fmt(r["gz_mb_per_s_per_core"], 2),
                fmt(r["raw_mb_per_s_per_core"], 2),
                r["cores"],
            ]
        )
    w(
        table(
            [
                "",
                "job s (each run)",
                "process s (with startup)",
                "events/s",
                "events/s per core",
                "MB/s per core (gzip)",
                "MB/s per core (uncompressed)",
                "cores",
            ],
            rows,
        )
    )
    w("")
    if t.get("ratio") is not None:
        w(f"**Ratio ingest / baseline: {t['ratio']:.2f} x** (target >= {t['target']}): {verdict(t['pass'])}.")
        w("")
    mt = t.get("marginal")
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
    ing, base = t.get("ingest"), t.get("baseline")
    el_i = process_of(results, ing.get("app_id")).get("eventlog", {}) if ing else {}
    el_b = process_of(results, base.get("app_id")).get("eventlog", {}) if base else {}
    w("### Where the time goes" + (" (target missed)" if t.get("pass") is False else ""))
    w("")
    w(
        table(
            BREAKDOWN_HEADERS,
            breakdown_rows(
                [
                    ("ingest", process_of(results, (ing or {}).get("app_id")), el_i),
                    ("baseline", process_of(results, (base or {}).get("app_id")), el_b),
                ]
            ),
        )
    )
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


def _render_growth(w, results: dict, s: dict) -> None:
    w("## 2. Pipeline at several sizes")
    w("")
    gr, g = results.get("growth"), s.get("growth")
    if not gr or not g:
        w("_Not run._")
        w("")
        return
    sizes = g["sizes"]
    w(
        "Each size is generated with the same seed and days and `customers = 1x customers x size` (events "
        "scale with customers); each step runs in its own process on a fresh lake, in pipeline order. "
        "The growth target applies to the data steps (ingest, refine, features, kpis); the model steps, "
        "when timed (`--models`), are listed apart: their cost is set mostly by the search budget "
        "(models.max_evals), not by the data."
    )
    w("")
    headers = ["step"] + [f"x{k} job s" for k in sizes] + ["startup s (x1)", "largest vs linear"]
    rows = []
    for step in gr["steps"]:
        row = [step]
        for k in sizes:
            ref = gr["sizes"][str(k)]["steps"].get(step)
            row.append(fmt(ref["job_seconds"]) if ref and ref.get("ok") else ("failed" if ref else "–"))
        first = gr["sizes"][str(sizes[0])]["steps"].get(step) or {}
        row.append(fmt(first.get("startup_seconds")))
        row.append(fmt(g["per_step_vs_linear"].get(step), 2, " x"))
        rows.append(row)
    total = ["**data steps**"] + [f"**{fmt(g['costs'].get(str(k)))}**" for k in sizes] + ["", ""]
    total[-1] = f"**{fmt(g['worst_vs_linear'], 2, ' x')}**"
    rows.append(total)
    cpu = ["data steps, JVM CPU s"] + [
        fmt(cost(gr["sizes"][str(k)]["steps"], key="jvm_cpu_seconds")) for k in sizes
    ] + ["", fmt(g.get("worst_vs_linear_cpu"), 2, " x")]  # fmt: skip
    rows.append(cpu)
    events = ["events (lines)"] + [
        fmt(results["datasets"].get(f"x{k}", {}).get("events", {}).get("lines")) for k in sizes
    ] + ["", ""]  # fmt: skip
    rows.append(events)
    w(table(headers, rows))
    w("")
    vs = ", ".join(f"x{k}: {v:.2f}" for k, v in g["vs_linear"].items())
    w(
        f"Cost relative to linear growth from x{sizes[0]} (1.00 = linear, below = fixed costs amortised): {vs}. "
        f"A least-squares line through the sizes gives {fmt(g['fixed_seconds'])} s fixed + "
        f"{fmt(g['seconds_per_size_unit'])} s per size unit"
        + (
            " (negative: run-to-run noise exceeds the cost of the extra data)"
            if (g["seconds_per_size_unit"] or 0) < 0
            else ""
        )
        + f"; marginal growth {fmt(g['marginal'], 2, ' x')} "
        "(cost added per size unit between the two largest sizes / between the two smallest; 1.00 = the "
        f"variable part grows linearly). Target (largest vs linear <= {g['target']}): {verdict(g['pass'])}."
    )
    w("")
    w("### Where the time goes" + (" (target missed)" if g.get("pass") is False else ""))
    w("")
    pairs = []
    for step in gr["steps"]:
        for k in (sizes[0], sizes[-1]):
            ref = gr["sizes"][str(k)]["steps"].get(step)
            if ref:
                pairs.append((f"{step} x{k}", ref, eventlog_of(results, ref)))
    w(table(BREAKDOWN_HEADERS, breakdown_rows(pairs)))
    w("")
    grown = _grown_operations(results, gr, sizes)
    if not grown and sizes[0] != sizes[-1]:
        w(f"No operation took longer at x{sizes[-1]} than at x{sizes[0]} in this run.")
        w("")
    if grown:
        w(
            f"Operations whose wall time grew most from x{sizes[0]} to x{sizes[-1]} "
            f"(linear would be x{sizes[-1] / sizes[0]:.0f}):"
        )
        w("")
        w(table(["step", "operation", f"x{sizes[0]} s", f"x{sizes[-1]} s", "growth"], grown, "llrrr"))
        w("")
    if g.get("pass") is False:
        worst = max(g["per_step_vs_linear"].items(), key=lambda kv: kv[1], default=(None, None))
        if worst[0]:
            ref = gr["sizes"][str(sizes[-1])]["steps"].get(worst[0]) or {}
            el = eventlog_of(results, ref)
            w(
                f"The step growing fastest is **{worst[0]}** ({worst[1]:.2f} x linear); at x{sizes[-1]} "
                f"{driver_share(ref, el)}; its costliest operations: {top_ops_sentence(el)}."
            )
            w("")


def _grown_operations(results: dict, gr: dict, sizes: list[int], limit: int = 8) -> list[list]:
    lo, hi = sizes[0], sizes[-1]
    if lo == hi:
        return []
    rows = []
    for step in gr["steps"]:
        a = eventlog_of(results, gr["sizes"][str(lo)]["steps"].get(step))
        b = eventlog_of(results, gr["sizes"][str(hi)]["steps"].get(step))
        small = {o["label"]: o for o in a.get("operations") or []}
        for o in b.get("operations") or []:
            before = small.get(o["label"])
            if before and before["wall_s"] > 0.5 and o["wall_s"] > before["wall_s"]:
                rows.append((o["wall_s"] - before["wall_s"], step, o["label"], before["wall_s"], o["wall_s"]))
    rows.sort(reverse=True)
    return [
        [step, label, fmt(x), fmt(y), fmt(y / x if x else None, 2, " x")]
        for _d, step, label, x, y in rows[:limit]
    ]


def _render_incremental(w, results: dict, s: dict) -> None:
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
    rows = []
    for step in DATA_STEPS:
        row = [step]
        for key in ("history", "new_day", "day_alone", "recompute"):
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
        + [fmt(cost(inc[k], key="jvm_cpu_seconds")) for k in ("history", "new_day", "day_alone", "recompute")]
        + [fmt(i.get("ratio_cpu"), 2, " x")]
    )
    w(
        table(
            [
                "step",
                f"history ({n} days) s",
                "new day s",
                "that day alone s",
                f"recompute {n + 1} days s",
                "new day / alone",
            ],
            rows,
        )
    )
    w("")
    w(
        f"New day / that day alone: **{fmt(i['ratio'], 2, ' x')}** (target <= {i['target']}): "
        f"{verdict(i['pass'])}. New day / recompute everything: {fmt(i['vs_recompute'], 2, ' x')}."
    )
    w("")
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
    if i.get("pass") is False:
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
    reads = inc.get("gold_reads") or {}
    if reads.get("new_day") or reads.get("day_alone"):
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
        w(
            table(
                [
                    "gold table",
                    "days computed",
                    "files read (new day)",
                    "files read (alone)",
                    "reads (new day)",
                ],
                rows,
            )
        )
        w("")


def _render_memory(w, results: dict, s: dict) -> None:
    w("## 4. Driver peak memory")
    w("")
    mem = s.get("memory")
    if not mem:
        w("_No process measured._")
        w("")
        return
    w(
        "Local mode: the driver JVM also runs the tasks, so its memory includes execution and storage "
        f"memory. *JVM peak RSS*: the kernel's high-water mark of the java process (VmHWM); *peak heap*: "
        f"sum of the heap pools' peak use (an upper bound); -Xmx = spark.driver.memory = "
        f"{mem.get('driver_memory')}. *Python*: the driver's Python process (ru_maxrss)."
    )
    w("")
    rows = []
    for p in results.get("processes", []):
        rows.append(
            [
                f"{p['scenario']}: {p['label']}",
                fmt(p.get("job_seconds")),
                fmt(p.get("jvm_cpu_seconds")),
                fmt(p.get("startup_seconds")),
                gib_kib(p.get("jvm_peak_rss_kib")),
                gib_b(p.get("jvm_heap_peak_bytes")),
                gib_kib(p.get("python_peak_rss_kib")),
                fmt(p.get("load_before"), 1),
            ]
        )
    w(
        f"Highest JVM peak RSS: **{gib_kib(mem['max_jvm_rss_kib'])}** ({mem['max_jvm_rss_at']}); highest "
        f"peak heap {gib_b(mem['max_heap_bytes'])} ({mem['max_heap_at']}); highest Python peak "
        f"{gib_kib(mem['max_python_rss_kib'])}."
    )
    w("")
    w("All measured processes, in run order:")
    w("")
    w(
        table(
            [
                "process",
                "job s",
                "JVM CPU s",
                "startup s",
                "JVM peak RSS",
                "JVM peak heap",
                "Python peak RSS",
                "load before",
            ],
            rows,
        )
    )
    w("")


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


def main(argv: list[str] | None = None) -> int:
    """python -m bench.report [--reanalyse] [results.json] [BENCHMARKS.md]

    --reanalyse re-reads the run's event logs (kept in the work folder) with the current bench.eventlog
    and saves the summaries into results.json before rendering: same run, same figures, new analysis.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    again = "--reanalyse" in argv
    argv = [a for a in argv if a != "--reanalyse"]
    src = Path(argv[0]) if argv else ROOT / "bench" / "results.json"
    dst = Path(argv[1]) if len(argv) > 1 else ROOT / "BENCHMARKS.md"
    results = json.loads(src.read_text(encoding="utf-8"))
    if again:
        print(f"re-analysed {reanalyse(results)} event logs")
    results["summary"] = evaluate(results)
    if again:
        write_results(results, src)
    dst.write_text(render(results, json_path=str(src)), encoding="utf-8")
    print(f"wrote {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
