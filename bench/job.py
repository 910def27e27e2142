"""Runs one job in this (fresh) process and writes what it measured as JSON: the bench's child process.

    python -m bench.job --out RESULT.json JOB [job arguments]

JOB is a file of jobs/ (ingest, refine, ...) or `baseline` (bench/baseline_parquet.py). The session is
built first, with the job's own configuration and app name, so the timed part (`job_seconds`) is the
job's work alone: JVM start and session creation are reported apart (`startup_seconds`), and the job's
`main` finds the session already active. After the job: the JVM's peak resident memory (VmHWM of the
java process, the kernel's high-water mark), its peak heap use, Python's own peak, then the session is
stopped so that the Spark event log is complete.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import sys
import time
from pathlib import Path

STARTED = time.monotonic()

ROOT = Path(__file__).resolve().parents[1]
JOBS_DIR = ROOT / "jobs"
BASELINE = Path(__file__).resolve().parent / "baseline_parquet.py"


def _load(job: str):
    path = BASELINE if job == "baseline" else JOBS_DIR / f"{job}.py"
    if not path.is_file():
        raise SystemExit(f"bench.job: no job {job!r} ({path})")
    spec = importlib.util.spec_from_file_location(f"bench_job_{job}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _status_kib(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (/proc/<pid>/stat utime, stime)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) ": field 3 onwards
    ticks = os.sysconf("SC_CLK_TCK")
    return round((int(fields[11]) + int(fields[12])) / ticks, 2)


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def java_pid(spark) -> int | None:
    """The driver JVM: the gateway's process (spark-submit execs java), else a java descendant."""
    proc = getattr(spark.sparkContext._gateway, "proc", None)
    if proc is not None and _comm(proc.pid) == "java":
        return proc.pid
    todo = _children(os.getpid())
    while todo:
        pid = todo.pop()
        if _comm(pid) == "java":
            return pid
        todo += _children(pid)
    return None


def heap_peak_bytes(spark) -> int | None:
    """Sum of the heap pools' peak use (an upper bound of the heap's simultaneous peak)."""
    try:
        jvm = spark.sparkContext._jvm
        factory = jvm.java.lang.management.ManagementFactory
        total = 0
        for pool in factory.getMemoryPoolMXBeans():
            if str(pool.getType().toString()) == "Heap memory":
                total += int(pool.getPeakUsage().getUsed())
        return total
    except Exception:  # noqa: BLE001 - a missing figure, not a failed run
        return None


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _jvm_property(spark, name: str) -> str | None:
    try:
        return str(spark.sparkContext._jvm.java.lang.System.getProperty(name))
    except Exception:  # noqa: BLE001 - a missing figure, not a failed run
        return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m bench.job", add_help=False)
    parser.add_argument("--out", required=True)
    parser.add_argument("job")
    own, job_argv = parser.parse_known_args(argv)
    # The job's own config options, to build its session before timing it.
    conf_parser = argparse.ArgumentParser(add_help=False)
    conf_parser.add_argument("--env", default="local")
    conf_parser.add_argument("--config")
    conf_parser.add_argument("--set", dest="overrides", action="append", default=[])
    conf_args, _ = conf_parser.parse_known_args(job_argv)

    from lakepulse.config import load_config
    from lakepulse.runtime.cli import configure_logging
    from lakepulse.runtime.session import build_session

    configure_logging()
    config = load_config(conf_args.env, conf_args.config, conf_args.overrides)
    app = "lakepulse-bench-baseline" if own.job == "baseline" else f"lakepulse-{own.job}"
    spark = build_session(config, app_name=app)
    module = _load(own.job)
    pid = java_pid(spark)
    jvm_cpu_ready = _cpu_seconds(pid) if pid else None
    py_cpu_ready = _own_cpu()
    ready, ready_epoch = time.monotonic(), time.time()
    code = int(module.main(job_argv) or 0)
    done, done_epoch = time.monotonic(), time.time()
    jvm_cpu_done = _cpu_seconds(pid) if pid else None

    sc = spark.sparkContext
    result = {
        "job": own.job,
        "argv": job_argv,
        "exit_code": code,
        "startup_seconds": round(ready - STARTED, 3),
        "job_seconds": round(done - ready, 3),
        "app_id": sc.applicationId,
        "cores": sc.defaultParallelism,
        "master": sc.master,
        "driver_memory": sc.getConf().get("spark.driver.memory", None),
        "jvm_pid": pid,
        "jvm_peak_rss_kib": _status_kib(pid, "VmHWM") if pid else None,
        "jvm_heap_peak_bytes": heap_peak_bytes(spark),
        "python_peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        # CPU time the job used (the JVM runs the tasks in local mode): unlike wall time, it hardly
        # grows when other processes compete for the cores.
        "jvm_cpu_seconds": (
            round(jvm_cpu_done - jvm_cpu_ready, 2) if jvm_cpu_ready is not None and jvm_cpu_done else None
        ),
        "python_cpu_seconds": round(_own_cpu() - py_cpu_ready, 2),
        "event_log_dir": sc.getConf().get("spark.eventLog.dir", None),
        "ready_epoch_ms": int(ready_epoch * 1000),
        "done_epoch_ms": int(done_epoch * 1000),
        "spark_version": sc.version,
        "java_version": _jvm_property(spark, "java.version"),
        "java_vm": _jvm_property(spark, "java.vm.name"),
    }
    spark.stop()  # completes the event log (its .inprogress file is renamed)
    result["total_seconds"] = round(time.monotonic() - STARTED, 3)
    Path(own.out).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main())
