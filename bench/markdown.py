"""Markdown building blocks of BENCHMARKS.md: number formats, tables, and where-the-time-goes figures
read from the processes' event-log summaries. Shared by every part's renderer."""

from __future__ import annotations

from tabulate import tabulate

from bench.params import DATA_STEPS

MB = 1e6


def fmt(value, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}{unit}"
    return f"{value:,.{digits}f}{unit}"


def gib_kib(kib) -> str:
    return "–" if kib is None else f"{kib / 1024 / 1024:.2f} GiB"


def gib_b(b) -> str:
    return "–" if b is None else f"{b / 1024**3:.2f} GiB"


def table(headers: list[str], rows: list[list], align: str | None = None) -> str:
    """A pipe table (GitHub Markdown) through tabulate; `align` holds one "l" or "r" per column (default:
    the first left, the rest right, figures being right-aligned).

    Cells are passed as text with number parsing off: they are formatted already (`fmt`), and tabulate
    would otherwise re-read "1,234" or "0.50" as numbers and reformat them. None prints as "None", as
    the hand-written tables did."""
    align = align or "l" + "r" * (len(headers) - 1)
    return tabulate(
        [[str(c) for c in row] for row in rows],
        headers=list(headers),
        tablefmt="pipe",  # "github" drops the alignment colons in tabulate 0.10
        colalign=["right" if a == "r" else "left" for a in align],
        disable_numparse=True,
    )


def verdict(ok) -> str:
    return "–" if ok is None else ("**PASS**" if ok else "**MISS**")


def cost(steps: dict, names=DATA_STEPS, key: str = "job_seconds") -> float | None:
    """Sum of `key` (job seconds, or JVM CPU seconds) of `names`; None when one is missing or failed."""
    total = 0.0
    for n in names:
        s = steps.get(n)
        if not s or not s.get("ok") or s.get(key) is None:
            return None
        total += s[key]
    return total


def vs_linear(costs: dict[int, float | None]) -> dict[int, float]:
    valid = [k for k in sorted(costs) if costs[k] is not None]
    if not valid or not costs[valid[0]]:
        return {}
    base = valid[0]
    return {k: (costs[k] / costs[base]) / (k / base) for k in valid[1:]}


def process_of(results: dict, app_id: str | None) -> dict:
    for p in results.get("processes", []):
        if p.get("app_id") == app_id:
            return p
    return {}


def eventlog_of(results: dict, ref: dict | None) -> dict:
    if not ref:
        return {}
    return process_of(results, ref.get("app_id")).get("eventlog") or {}


def breakdown_rows(pairs: list[tuple[str, dict, dict]]) -> list[list]:
    """Rows of event-log figures for several processes side by side: (name, step ref, event log)."""
    rows = []
    for name, ref, el in pairs:
        job = ref.get("job_seconds") if ref else None
        drv = el.get("driver_only_s")
        rows.append(
            [
                name,
                fmt(job),
                fmt(ref.get("jvm_cpu_seconds") if ref else None),
                fmt(el.get("sql_s")),
                fmt(el.get("jobs_running_s")),
                fmt(drv) + (f" ({100 * drv / job:.0f}%)" if drv is not None and job else ""),
                fmt(el.get("jobs")),
                fmt(el.get("tasks")),
                fmt(el.get("task_s")),
                fmt(el.get("cpu_s")),
                fmt(el.get("gc_s")),
                fmt((el.get("shuffle_write_bytes") or 0) / MB if el else None),
                fmt((el.get("output_bytes") or 0) / MB if el else None),
            ]
        )
    return rows


BREAKDOWN_HEADERS = [
    "process",
    "job s",
    "JVM CPU s",
    "in SQL executions s",
    "Spark jobs running s",
    "driver only s",
    "Spark jobs",
    "tasks",
    "task s",
    "task CPU s",
    "GC s",
    "shuffle write MB",
    "output MB",
]

BREAKDOWN_NOTE = (
    "*job s*: the job's wall time; *JVM CPU s*: CPU time of the driver JVM (which runs the tasks) "
    "during the job; *in SQL executions*: time inside top-level queries and writes "
    "(Delta's nested queries included); *Spark jobs running*: time with at least one Spark job "
    "running; *driver only*: job time outside any query (Python, Delta log reads and commits, file "
    "listing, planning between queries); *task s*: executor run time summed over tasks (at most cores x "
    "wall); figures from the Spark event log, restricted to the job's timed window. Operations tables: "
    "one row per top-level query or write, labelled by its Python call site, else by the table it writes "
    "or the tables and landing folders it reads; operations run from parallel threads overlap, so their "
    "wall times can add up to more than the job's."
)


def operations_table(el: dict, limit: int = 8) -> str:
    ops = el.get("operations") or []
    if not ops:
        return "_(no event log)_"
    rows = [[o["label"], o["count"], fmt(o["wall_s"]), fmt(o["task_s"]), o["jobs"]] for o in ops[:limit]]
    return table(
        ["top-level operation (Python call site or table written)", "n", "wall s", "task s", "Spark jobs"],
        rows,
    )


def nested_table(el: dict, limit: int = 6) -> str:
    ops = el.get("nested") or []
    if not ops:
        return ""
    rows = [[o["label"], o["count"], fmt(o["wall_s"]), fmt(o["task_s"]), o["jobs"]] for o in ops[:limit]]
    return table(
        ["nested execution (inside the operations above)", "n", "wall s", "task s", "Spark jobs"], rows
    )


def stages_table(el: dict, limit: int = 5) -> str:
    stages = (el.get("stages_top") or [])[:limit]
    if not stages:
        return ""
    rows = [[x["stage"], x.get("operation", "?"), x["name"], x["tasks"], fmt(x["task_s"])] for x in stages]
    return table(["stage", "operation", "stage name", "tasks", "task s"], rows, "rllrr")


def top_ops_sentence(el: dict, n: int = 3) -> str:
    ops = (el.get("operations") or [])[:n]
    return "; ".join(f"`{o['label']}` {o['wall_s']:.1f} s ({o['jobs']} Spark jobs)" for o in ops) or "–"


def driver_share(ref: dict, el: dict) -> str:
    job, drv = (ref or {}).get("job_seconds"), el.get("driver_only_s")
    if not job or drv is None:
        return ""
    return f"{drv:.1f} s of its {job:.1f} s ({100 * drv / job:.0f}%) run no query at all (driver only)"
