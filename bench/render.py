"""BENCHMARKS.md from the bench's raw figures: the document's frame (run, machine, targets, how to
reproduce) and the memory part, which spans every other part's processes.

Each other part's sections live in <part>_report.py, so a part can change its tables without touching
the frame, and no module grows back into one file of every section.
"""

from __future__ import annotations

from pathlib import Path

from bench.growth_report import render_growth
from bench.incremental_report import render_incremental
from bench.markdown import fmt, gib_b, gib_kib, table, verdict
from bench.params import DEFAULTS
from bench.scale_report import render_scale, target_rows
from bench.throughput_report import render_throughput
from bench.verdicts import evaluate

ROOT = Path(__file__).resolve().parents[1]


def render(results: dict, json_path: str = "bench/results.json") -> str:
    s = results.get("summary") or evaluate(results)
    out: list[str] = []
    w = out.append
    _render_run(w, results, json_path)
    _render_machine(w, results, s)
    _render_targets(w, results, s)
    render_scale(w, results, s.get("scale"))
    render_throughput(w, results, s)
    render_growth(w, results, s)
    render_incremental(w, results, s)
    _render_memory(w, results, s)
    _render_reproduce(w, results, json_path)
    return "\n".join(out)


def _render_run(w, results: dict, json_path: str) -> None:
    p = results.get("parameters", {})
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


def _render_machine(w, results: dict, s: dict) -> None:
    m = results.get("machine", {})
    cpus = f"{m.get('cpus_available')} available of {m.get('logical_cpus')} logical"
    if m.get("cgroup_cpu_limit"):
        cpus += f", cgroup quota {m['cgroup_cpu_limit']}"
    disk = m.get("workdir_disk", {})
    rows = [
        ["CPU", f"{m.get('cpu_model')} ({cpus})"],
        ["Memory", gib_b(m.get("memory_bytes"))],
        ["OS", f"{m.get('os')}, kernel {m.get('kernel')}"],
        ["Java", m.get("java") or "?"],
        ["Python", m.get("python")],
        ["Spark (pyspark)", m.get("pyspark")],
        ["Delta Lake", f"delta-spark {m.get('delta_spark')}; jars {', '.join(m.get('delta_jars') or [])}"],
        ["Spark master, driver memory", f"{_first(results, 'master')}, {_first(results, 'driver_memory')}"],
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
    ]
    w("## Machine")
    w("")
    w(table(["", ""], rows, "ll"))
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


def _small_target_rows(s: dict) -> list[list]:
    """The Targets rows of the small-data parts (throughput, growth), the incremental day and memory."""
    t, g, i, mem = s.get("throughput"), s.get("growth"), s.get("incremental"), s.get("memory")
    rows = [
        [
            "Bronze ingestion throughput vs plain Spark (JSON -> Parquet)",
            ">= 0.7 x",
            "not run"
            if not t
            else (fmt(t.get("ratio"), 2, " x") if t.get("ratio") is not None else "failed"),
            verdict(t.get("pass")) if t else "–",
            fmt((t or {}).get("ratio_cpu"), 2, " x"),
        ],
        [
            "Pipeline growth vs linear" + (f" ({', '.join(f'x{k}' for k in g['sizes'])})" if g else ""),
            "<= 1.1 x",
            "not run" if not g else fmt(g.get("worst_vs_linear"), 2, " x"),
            verdict(g.get("pass")) if g else "–",
            fmt((g or {}).get("worst_vs_linear_cpu"), 2, " x"),
        ],
    ]
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
    rows.append(
        [
            "Incremental day vs processing that day alone",
            "<= 1.5 x",
            "not run" if not i else fmt(i.get("ratio"), 2, " x"),
            verdict(i.get("pass")) if i else "–",
            fmt((i or {}).get("ratio_cpu"), 2, " x"),
        ]
    )
    rows.append(
        [
            "Driver peak memory (JVM resident set, any process)",
            "(reported)",
            gib_kib(mem["max_jvm_rss_kib"]) if mem else "–",
            "–",
            "",
        ]
    )
    return rows


def _render_targets(w, results: dict, s: dict) -> None:
    rows = target_rows(s.get("scale")) + _small_target_rows(s)
    w("## Targets")
    w("")
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
    rows = [
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
        for p in results.get("processes", [])
    ]
    w(
        f"Highest JVM peak RSS: **{gib_kib(mem['max_jvm_rss_kib'])}** ({mem['max_jvm_rss_at']}); highest "
        f"peak heap {gib_b(mem['max_heap_bytes'])} ({mem['max_heap_at']}); highest Python peak "
        f"{gib_kib(mem['max_python_rss_kib'])}."
    )
    w("")
    w("All measured processes, in run order:")
    w("")
    headers = ["process", "job s", "JVM CPU s", "startup s", "JVM peak RSS", "JVM peak heap"]
    w(table([*headers, "Python peak RSS", "load before"], rows))
    w("")


def _render_reproduce(w, results: dict, json_path: str) -> None:
    d = results.get("defaults") or DEFAULTS  # older results.json without "defaults"
    w("## How to reproduce")
    w("")
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
