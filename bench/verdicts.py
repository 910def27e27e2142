"""Verdicts: the bench's raw figures (results.json) reduced to ratios against the targets.

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

Kept apart from the Markdown so the command can print the headline, and a results.json can be judged
again with changed definitions, without rendering anything.
"""

from __future__ import annotations

from bench.markdown import MB, cost, fmt, gib_kib, vs_linear
from bench.params import DATA_STEPS, TARGETS
from bench.scale_report import evaluate_scale, headline_lines


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


def _throughput_row(tp: dict, ds: dict, best: dict, variant: str) -> dict:
    secs, cores = best["job_seconds"], best.get("cores") or 1
    return {
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


def _throughput(results: dict, tp: dict, targets: dict) -> dict:
    ds = results["datasets"][tp["dataset"]]["events"]
    rows = {}
    for variant in ("ingest", "baseline"):
        best = _best(tp["runs"], variant, tp["size"])
        if best is not None:
            rows[variant] = _throughput_row(tp, ds, best, variant)
    ratio = ratio_cpu = None
    if "ingest" in rows and "baseline" in rows:
        ratio = rows["ingest"]["events_per_s"] / rows["baseline"]["events_per_s"]
        cpu_i = _best(tp["runs"], "ingest", tp["size"]).get("jvm_cpu_seconds")
        cpu_b = _best(tp["runs"], "baseline", tp["size"]).get("jvm_cpu_seconds")
        ratio_cpu = cpu_b / cpu_i if cpu_i and cpu_b else None
    target = targets.get("ingest_ratio_min", TARGETS["ingest_ratio_min"])
    return {
        **rows,
        "marginal": _marginal_throughput(results, tp),
        "ratio": ratio,
        "ratio_cpu": ratio_cpu,
        "target": target,
        "pass": None if ratio is None else ratio >= target,
    }


def _fits(costs: dict[int, float], valid: list[int]) -> tuple[float | None, float | None, float | None]:
    """Marginal growth (slope between the two largest sizes / between the two smallest) and a
    least-squares line (fixed seconds, seconds per size unit): both set fixed costs apart."""
    marginal = fixed = per_unit = None
    if len(valid) >= 3:
        a, b, c, d = valid[0], valid[1], valid[-2], valid[-1]
        first = (costs[b] - costs[a]) / (b - a)
        last = (costs[d] - costs[c]) / (d - c)
        # Both slopes must be positive for a ratio to mean anything (else noise exceeds the data's cost).
        marginal = last / first if first > 0 and last > 0 else None
    if len(valid) >= 2:
        n = len(valid)
        mx = sum(valid) / n
        my = sum(costs[k] for k in valid) / n
        sxx = sum((k - mx) ** 2 for k in valid)
        per_unit = sum((k - mx) * (costs[k] - my) for k in valid) / sxx
        fixed = my - per_unit * mx
    return marginal, fixed, per_unit


def _per_step_growth(gr: dict, valid: list[int]) -> dict[str, float]:
    per_step = {}
    for step in gr.get("steps", DATA_STEPS):
        s = {k: gr["sizes"][str(k)]["steps"].get(step, {}) for k in valid}
        secs = {k: v["job_seconds"] for k, v in s.items() if v.get("ok")}
        if len(secs) >= 2:
            lo, hi = min(secs), max(secs)
            per_step[step] = (secs[hi] / secs[lo]) / (hi / lo)
    return per_step


def _growth(gr: dict, targets: dict) -> dict:
    sizes = sorted(int(k) for k in gr["sizes"])
    costs = {k: cost(gr["sizes"][str(k)]["steps"]) for k in sizes}
    valid = [k for k in sizes if costs[k] is not None]
    linear = vs_linear(costs)
    cpu_vs_linear = vs_linear({k: cost(gr["sizes"][str(k)]["steps"], key="jvm_cpu_seconds") for k in sizes})
    marginal, fixed, per_unit = _fits(costs, valid)
    worst = max(linear.values()) if linear else None
    target = targets.get("growth_max", TARGETS["growth_max"])
    return {
        "sizes": sizes,
        "costs": {str(k): v for k, v in costs.items()},
        "vs_linear": {str(k): v for k, v in linear.items()},
        "worst_vs_linear": worst,
        "worst_vs_linear_cpu": max(cpu_vs_linear.values()) if cpu_vs_linear else None,
        "marginal": marginal,
        "fixed_seconds": fixed,
        "seconds_per_size_unit": per_unit,
        "per_step_vs_linear": _per_step_growth(gr, valid),
        "target": target,
        "pass": None if worst is None else worst <= target,
        "marginal_pass": None if marginal is None else marginal <= target,
    }


def _incremental(inc: dict, targets: dict) -> dict:
    new, alone, full = cost(inc["new_day"]), cost(inc["day_alone"]), cost(inc["recompute"])
    ratio = new / alone if new is not None and alone else None
    cpu_new = cost(inc["new_day"], key="jvm_cpu_seconds")
    cpu_alone = cost(inc["day_alone"], key="jvm_cpu_seconds")
    target = targets.get("incremental_max", TARGETS["incremental_max"])
    return {
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


def _memory(procs: list[dict]) -> dict:
    top = max(procs, key=lambda p: p["jvm_peak_rss_kib"])
    heap = max(procs, key=lambda p: p.get("jvm_heap_peak_bytes") or 0)
    return {
        "max_jvm_rss_kib": top["jvm_peak_rss_kib"],
        "max_jvm_rss_at": f"{top['scenario']}: {top['label']}",
        "max_heap_bytes": heap.get("jvm_heap_peak_bytes"),
        "max_heap_at": f"{heap['scenario']}: {heap['label']}",
        "max_python_rss_kib": max(p.get("python_peak_rss_kib") or 0 for p in procs),
        "driver_memory": top.get("driver_memory"),
    }


def evaluate(results: dict) -> dict:
    """The summary stored as results["summary"]: one entry per part that ran."""
    targets = results.get("targets", {})
    out: dict = {}
    if results.get("throughput"):
        out["throughput"] = _throughput(results, results["throughput"], targets)
    if results.get("growth"):
        out["growth"] = _growth(results["growth"], targets)
    if results.get("incremental"):
        out["incremental"] = _incremental(results["incremental"], targets)
    scale = evaluate_scale(results)
    if scale:
        out["scale"] = scale
    procs = [p for p in results.get("processes", []) if p.get("jvm_peak_rss_kib")]
    if procs:
        out["memory"] = _memory(procs)
    loads = [p.get("load_before") for p in results.get("processes", []) if p.get("load_before") is not None]
    out["max_load"] = max(loads) if loads else None
    return out


def headline(results: dict) -> list[str]:
    """The lines the command prints when it ends: the verdicts without opening BENCHMARKS.md."""
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
