"""The machine a benchmark ran on, collected from the system (nothing typed in by hand)."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def cgroup_cpu_limit() -> float | None:
    """CPUs allowed by a cgroup v2 quota (cpu.max), None when unlimited or unknown."""
    text = _read("/sys/fs/cgroup/cpu.max").split()
    if len(text) == 2 and text[0] != "max":
        return round(int(text[0]) / int(text[1]), 2)
    return None


def mem_total_bytes() -> int | None:
    m = re.search(r"^MemTotal:\s+(\d+) kB", _read("/proc/meminfo"), re.M)
    return int(m.group(1)) * 1024 if m else None


def os_name() -> str:
    m = re.search(r'^PRETTY_NAME="?([^"\n]+)', _read("/etc/os-release"), re.M)
    return m.group(1) if m else platform.system()


def java_version() -> str | None:
    """First line of `java -version` for the java that Spark would start (JAVA_HOME first)."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java:
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (out.stderr or out.stdout).strip().splitlines()
    return " / ".join(line.strip() for line in lines[:2]) if lines else None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def delta_jars() -> list[str]:
    try:
        from lakepulse.runtime.jars import ensure_delta_jars

        return [Path(p).name for p in ensure_delta_jars()]
    except Exception:  # noqa: BLE001 - described as unknown rather than failing the bench
        return []


def disk_of(path: str | Path) -> dict:
    usage = shutil.disk_usage(path)
    device = ""
    try:
        out = subprocess.run(["df", "--output=source,fstype", str(path)], capture_output=True, text=True)
        rows = out.stdout.strip().splitlines()
        device = " ".join(rows[-1].split()) if len(rows) > 1 else ""
    except OSError:
        pass
    return {"filesystem": device, "free_bytes": usage.free, "total_bytes": usage.total}


def other_java_processes() -> int:
    """Java processes not started by this benchmark's process tree (other Spark users of the machine)."""
    mine = set()
    todo = [os.getpid()]
    while todo:
        pid = todo.pop()
        mine.add(pid)
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    count = 0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "java" and int(comm.parent.name) not in mine:
                count += 1
        except (OSError, ValueError):
            continue
    return count


def describe(workdir: str | Path) -> dict:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "hostname": platform.node(),
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "cpus_available": affinity,
        "cgroup_cpu_limit": cgroup_cpu_limit(),
        "memory_bytes": mem_total_bytes(),
        "os": os_name(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "java": java_version(),
        "pyspark": _version("pyspark"),
        "delta_spark": _version("delta-spark"),
        "delta_jars": delta_jars(),
        "workdir_disk": disk_of(workdir),
        "load_average_at_start": list(os.getloadavg()),
        "other_java_processes_at_start": other_java_processes(),
    }
