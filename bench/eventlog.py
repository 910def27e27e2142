"""Where a Spark application's time went, from its event log (spark.eventLog.enabled=true).

Reads one application's log (a plain JSON-lines file, or a rolling `eventlog_v2_<app>` folder; `.gz`,
`.zstd`/`.lz4` compressed logs are not supported: the bench turns compression off) and sums:

* wall time of the application, time inside SQL executions (queries, writes, MERGEs, Delta's own
  queries), time with at least one Spark job running, and the rest: driver-only time (Python, Delta
  log and commit work, listing, planning) between queries;
* task figures from SparkListenerTaskEnd: executor run time, CPU time, GC time, input, output,
  shuffle and spill;
* per top-level SQL execution (what the job's Python code asked for: a collect, a count, a write of
  one table), its wall time, its task time and its number of Spark jobs, grouped by a readable label
  (the Python call site when Spark has one, else the table a write targets), and the nested Delta
  executions (snapshot computation, file filtering, auto compaction) grouped by kind.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

SQL_START = "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart"
SQL_END = "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionEnd"
_TARGET = re.compile(r"(?:path=|InsertIntoHadoopFsRelationCommand )(?:file:)?(/[^,\]\s]+)")
_DELTA_PATH = re.compile(r"(?:file:)?(/[^\s,\]<]+)")
_LOCATION = re.compile(r"Location: \w+ \[(?:file:)?([^\],\s]+)")
_GENERIC = re.compile(r"^(\w+) at (NativeMethodAccessorImpl\.java|<unknown>):0$")


def find_log(event_dir: str | Path, app_id: str) -> Path | None:
    """The event log of `app_id` in `event_dir`: a rolling folder or a single file (finished or not)."""
    folder = Path(str(event_dir).removeprefix("file:"))
    for name in (f"eventlog_v2_{app_id}", app_id, f"{app_id}.inprogress"):
        if (folder / name).exists():
            return folder / name
    return None


def _lines(path: Path):
    files = sorted(path.glob("events_*"), key=_part_number) if path.is_dir() else [path]
    for f in files:
        with f.open(encoding="utf-8") as text:
            for line in text:
                if line.strip():
                    yield json.loads(line)


def _part_number(path: Path) -> int:
    m = re.match(r"events_(\d+)_", path.name)
    return int(m.group(1)) if m else 0


def _union_ms(intervals: list[tuple[int, int]]) -> int:
    total, end = 0, None
    for s, e in sorted(intervals):
        if end is None or s > end:
            total += e - s
            end = e
        elif e > end:
            total += e - end
            end = e
    return total


def short_table(path: str) -> str:
    """`/x/lake/bronze/events` -> `bronze/events`; other paths keep their last two parts."""
    parts = [p for p in path.rstrip("/").split("/") if p]
    return "/".join(parts[-2:]) if parts else path


def scanned(plan: str) -> list[str]:
    """The tables and landing folders a physical plan scans: `bronze/events`, `landing/events`, ..."""
    out: list[str] = []
    for path in _LOCATION.findall(plan or ""):
        if "_delta_log" in path:
            continue
        parts = [p for p in path.split("/") if p]
        if "landing" in parts and parts.index("landing") + 1 < len(parts):
            name = "landing/" + parts[parts.index("landing") + 1]
        elif "lake" in parts and parts.index("lake") + 2 < len(parts):
            name = "/".join(parts[parts.index("lake") + 1 : parts.index("lake") + 3])
        else:
            name = short_table(path)
        if name not in out:
            out.append(name)
    return out


def _label(description: str, plan: str) -> str:
    description = description.replace("<br/>", " ").strip()
    if not _GENERIC.match(description):
        return re.sub(r"^(\w+) at /.*/(libs|jobs|bench)/", r"\1 at \2/", description)
    action = _GENERIC.match(description).group(1)
    target = _TARGET.search(plan or "")
    if target:
        return f"{action} -> {short_table(target.group(1))}"
    reads = scanned(plan)
    if reads:
        return f"{action} over {', '.join(reads[:3])}" + (" …" if len(reads) > 3 else "")
    return f"{action} (no Python call site)"


def _kind(description: str) -> str:
    """A nested execution's kind: Delta's descriptions without versions, counts and paths."""
    text = description.replace("<br/>", " ")
    if "Optimizing" in text:
        return "Delta auto compaction (OPTIMIZE)"
    if text.startswith("Delta: "):
        return re.sub(r"\d+", "N", text)
    if "recordDeltaOperation" in text:
        return "Delta internal operation"
    if "merge" in text.lower():
        return "MERGE"
    text = _DELTA_PATH.sub(lambda m: short_table(m.group(1)), text)
    return re.sub(r"\d+", "N", text)


@dataclass
class Group:
    label: str
    count: int = 0
    wall_ms: int = 0
    task_ms: int = 0
    jobs: int = 0

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "count": self.count,
            "wall_s": round(self.wall_ms / 1000, 3),
            "task_s": round(self.task_ms / 1000, 3),
            "jobs": self.jobs,
        }


@dataclass
class Summary:
    app_id: str
    app_name: str
    wall_s: float
    sql_s: float
    jobs_running_s: float
    driver_only_s: float
    jobs: int
    stages: int
    tasks: int
    failed_tasks: int
    task_s: float
    cpu_s: float
    gc_s: float
    deserialize_s: float
    input_bytes: int
    input_records: int
    output_bytes: int
    output_records: int
    shuffle_write_bytes: int
    shuffle_read_bytes: int
    spill_disk_bytes: int
    operations: list[dict] = field(default_factory=list)
    nested: list[dict] = field(default_factory=list)
    stages_top: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def summarize(path: str | Path, window: tuple[int, int] | None = None, top: int = 8) -> Summary:
    """Figures of one application's log; `window` (epoch ms) keeps what started inside it only."""
    app_id = app_name = ""
    app_start = app_end = None
    sql_start: dict[int, dict] = {}
    sql_end: dict[int, int] = {}
    job_exec: dict[int, int | None] = {}
    job_times: dict[int, list[int]] = {}
    stage_job: dict[int, int] = {}
    stage_info: dict[int, dict] = {}
    task_ms_by_stage: dict[int, int] = defaultdict(int)
    totals = defaultdict(int)

    def inside(ms: int | None) -> bool:
        return window is None or (ms is not None and window[0] <= ms <= window[1])

    for e in _lines(Path(path)):
        kind = e.get("Event")
        if kind == "SparkListenerApplicationStart":
            app_id, app_name, app_start = e.get("App ID", ""), e.get("App Name", ""), e["Timestamp"]
        elif kind == "SparkListenerApplicationEnd":
            app_end = e["Timestamp"]
        elif kind == SQL_START:
            sql_start[e["executionId"]] = e
        elif kind == SQL_END:
            sql_end[e["executionId"]] = e["time"]
        elif kind == "SparkListenerJobStart":
            props = e.get("Properties") or {}
            exec_id = props.get("spark.sql.execution.id")
            job_exec[e["Job ID"]] = int(exec_id) if exec_id not in (None, "") else None
            job_times[e["Job ID"]] = [e["Submission Time"], e["Submission Time"]]
            for sid in e.get("Stage IDs", []):
                stage_job.setdefault(sid, e["Job ID"])
        elif kind == "SparkListenerJobEnd":
            if e["Job ID"] in job_times:
                job_times[e["Job ID"]][1] = e["Completion Time"]
        elif kind == "SparkListenerStageCompleted":
            info = e["Stage Info"]
            stage_info[info["Stage ID"]] = info
        elif kind == "SparkListenerTaskEnd":
            tinfo, metrics = e.get("Task Info", {}), e.get("Task Metrics") or {}
            if not inside(tinfo.get("Launch Time")):
                continue
            totals["tasks"] += 1
            totals["failed"] += 1 if tinfo.get("Failed") else 0
            run_ms = metrics.get("Executor Run Time", 0)
            task_ms_by_stage[e["Stage ID"]] += run_ms
            totals["run_ms"] += run_ms
            totals["cpu_ns"] += metrics.get("Executor CPU Time", 0)
            totals["gc_ms"] += metrics.get("JVM GC Time", 0)
            totals["deser_ms"] += metrics.get("Executor Deserialize Time", 0)
            totals["in_b"] += (metrics.get("Input Metrics") or {}).get("Bytes Read", 0)
            totals["in_r"] += (metrics.get("Input Metrics") or {}).get("Records Read", 0)
            totals["out_b"] += (metrics.get("Output Metrics") or {}).get("Bytes Written", 0)
            totals["out_r"] += (metrics.get("Output Metrics") or {}).get("Records Written", 0)
            sw = metrics.get("Shuffle Write Metrics") or {}
            sr = metrics.get("Shuffle Read Metrics") or {}
            totals["sw_b"] += sw.get("Shuffle Bytes Written", 0)
            totals["sr_b"] += sr.get("Remote Bytes Read", 0) + sr.get("Local Bytes Read", 0)
            totals["spill"] += metrics.get("Disk Bytes Spilled", 0)

    start = window[0] if window else app_start or 0
    end = window[1] if window else app_end or start
    jobs_in = {j: t for j, t in job_times.items() if inside(t[0])}
    task_ms_by_job: dict[int, int] = defaultdict(int)
    for sid, ms in task_ms_by_stage.items():
        if sid in stage_job:
            task_ms_by_job[stage_job[sid]] += ms

    def root(exec_id: int) -> int:
        seen = 0
        while seen < 50:
            parent = sql_start.get(exec_id, {}).get("rootExecutionId", exec_id)
            if parent in (None, exec_id):
                return exec_id
            exec_id, seen = parent, seen + 1
        return exec_id

    def interval(exec_id: int) -> tuple[int, int]:
        s = sql_start[exec_id]["time"]
        return s, max(s, sql_end.get(exec_id, end))

    roots = [x for x in sql_start if root(x) == x and inside(sql_start[x]["time"])]
    operations: dict[str, Group] = {}
    for x in roots:
        e = sql_start[x]
        label = _label(e.get("description", ""), e.get("physicalPlanDescription", ""))
        g = operations.setdefault(label, Group(label))
        s, t = interval(x)
        g.count += 1
        g.wall_ms += t - s
    nested: dict[str, Group] = {}
    for x, e in sql_start.items():
        if root(x) != x and inside(e["time"]):
            g = nested.setdefault(_kind(e.get("description", "")), Group(_kind(e.get("description", ""))))
            s, t = interval(x)
            g.count += 1
            g.wall_ms += t - s
    job_label: dict[int, str] = {}
    for job in jobs_in:
        exec_id = job_exec.get(job)
        ms = task_ms_by_job.get(job, 0)
        if exec_id is None or exec_id not in sql_start:
            label = "(Spark jobs outside SQL executions)"
            g = operations.setdefault(label, Group(label))
            g.jobs += 1
            g.task_ms += ms
            job_label[job] = label
            continue
        r = root(exec_id)
        e = sql_start[r]
        label = _label(e.get("description", ""), e.get("physicalPlanDescription", ""))
        job_label[job] = label
        if r != exec_id:
            job_label[job] += " / " + _kind(sql_start[exec_id].get("description", ""))
        if label in operations:
            operations[label].jobs += 1
            operations[label].task_ms += ms
        if r != exec_id:
            k = _kind(sql_start[exec_id].get("description", ""))
            if k in nested:
                nested[k].jobs += 1
                nested[k].task_ms += ms

    sql_ms = _union_ms([interval(x) for x in roots])
    jobs_ms = _union_ms([(s, t) for s, t in jobs_in.values()])
    wall_ms = max(0, end - start)
    stages_top = sorted(
        (
            {
                "stage": sid,
                "operation": job_label.get(stage_job.get(sid, -1), "?"),
                "name": _label(stage_info.get(sid, {}).get("Stage Name", "?"), ""),
                "tasks": stage_info.get(sid, {}).get("Number of Tasks"),
                "task_s": round(ms / 1000, 3),
            }
            for sid, ms in task_ms_by_stage.items()
        ),
        key=lambda d: -d["task_s"],
    )[:top]
    return Summary(
        app_id=app_id,
        app_name=app_name,
        wall_s=round(wall_ms / 1000, 3),
        sql_s=round(sql_ms / 1000, 3),
        jobs_running_s=round(jobs_ms / 1000, 3),
        driver_only_s=round(max(0, wall_ms - sql_ms) / 1000, 3),
        jobs=len(jobs_in),
        stages=sum(1 for sid in stage_info if stage_job.get(sid) in jobs_in),
        tasks=totals["tasks"],
        failed_tasks=totals["failed"],
        task_s=round(totals["run_ms"] / 1000, 3),
        cpu_s=round(totals["cpu_ns"] / 1e9, 3),
        gc_s=round(totals["gc_ms"] / 1000, 3),
        deserialize_s=round(totals["deser_ms"] / 1000, 3),
        input_bytes=totals["in_b"],
        input_records=totals["in_r"],
        output_bytes=totals["out_b"],
        output_records=totals["out_r"],
        shuffle_write_bytes=totals["sw_b"],
        shuffle_read_bytes=totals["sr_b"],
        spill_disk_bytes=totals["spill"],
        operations=[g.as_dict() for g in sorted(operations.values(), key=lambda g: -g.wall_ms)][:top],
        nested=[g.as_dict() for g in sorted(nested.values(), key=lambda g: -g.wall_ms)][:top],
        stages_top=stages_top,
    )


if __name__ == "__main__":  # python -m bench.eventlog LOG: print the summary
    import sys

    print(json.dumps(summarize(sys.argv[1]).as_dict(), indent=1))
