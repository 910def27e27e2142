"""A real Spark standalone cluster on 127.0.0.1: one master and N workers from the installed pyspark.

Used by the cluster tests and by `make cluster-up` / `make cluster-down`. Processes are started with
`spark-class org.apache.spark.deploy.master.Master` / `...deploy.worker.Worker` and stopped by the
pids recorded in `<state_dir>/cluster.json`.

    python -m lakepulse.runtime.standalone start --state-dir DIR [--workers 2]
    python -m lakepulse.runtime.standalone stop --state-dir DIR
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pyspark

HOST = "127.0.0.1"


@dataclass
class Cluster:
    master_url: str
    master_pid: int
    worker_pids: list[int]
    state_dir: str

    @property
    def pids(self) -> list[int]:
        return [self.master_pid, *self.worker_pids]


def spark_home() -> str:
    return os.environ.get("SPARK_HOME") or os.path.dirname(pyspark.__file__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _wait_for(predicate, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise RuntimeError(f"{what} did not come up within {timeout:.0f}s; log {log}:\n{tail}")


def _spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    handle = log.open("ab")
    return subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _log_says(log: Path, text: str) -> Callable[[], bool]:
    return lambda: text in log.read_text(errors="replace")


def _spawn_master(spark_class: str, state: Path, env: dict[str, str]) -> tuple[str, int]:
    """Starts the master on a free port; returns its URL and pid."""
    port = free_port()
    args = [spark_class, "org.apache.spark.deploy.master.Master", "--host", HOST, "--port", str(port)]
    master = _spawn([*args, "--webui-port", str(free_port())], state / "master.log", env)
    return f"spark://{HOST}:{port}", master.pid


def _spawn_worker(
    spark_class: str, state: Path, env: dict[str, str], url: str, i: int, cores: int, memory: str
) -> int:
    args = [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", HOST, "--cores", str(cores)]
    args += [
        "--memory",
        memory,
        "--webui-port",
        str(free_port()),
        "--work-dir",
        str(state / f"work-{i}"),
        url,
    ]
    return _spawn(args, state / f"worker-{i}.log", env).pid


def start(
    state_dir: str | Path, workers: int = 2, cores: int = 1, memory: str = "2g", timeout: float = 120
) -> Cluster:
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    home = spark_home()
    spark_class = os.path.join(home, "bin", "spark-class")
    env = {**os.environ, "SPARK_HOME": home, "SPARK_LOCAL_IP": HOST, "SPARK_LOG_DIR": str(state)}
    url, master_pid = _spawn_master(spark_class, state, env)
    cluster = Cluster(url, master_pid, [], str(state))
    try:
        master_log = state / "master.log"
        _wait_for(_log_says(master_log, "I have been elected leader"), timeout, "Spark master", master_log)
        for i in range(workers):
            cluster.worker_pids.append(_spawn_worker(spark_class, state, env, url, i, cores, memory))
        for i in range(workers):
            log = state / f"worker-{i}.log"
            _wait_for(
                _log_says(log, "Successfully registered with master"), timeout, f"Spark worker {i}", log
            )
    except BaseException:
        stop(cluster)
        raise
    (state / "cluster.json").write_text(json.dumps(asdict(cluster)), encoding="utf-8")
    return cluster


def stop(cluster: Cluster, grace: float = 10) -> None:
    """Stops every process of the cluster by its pid (its process group: spark-class forks java)."""
    for pid in reversed(cluster.pids):
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pid) for pid in cluster.pids):
        time.sleep(0.2)
    for pid in cluster.pids:
        _signal_group(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def load(state_dir: str | Path) -> Cluster:
    return Cluster(**json.loads((Path(state_dir) / "cluster.json").read_text(encoding="utf-8")))


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _alive(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lakepulse.runtime.standalone", description=__doc__.splitlines()[0]
    )
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--state-dir", default=".lakepulse/standalone")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if args.action == "start":
        cluster = start(args.state_dir, workers=args.workers)
        print(cluster.master_url)
    else:
        stop(load(args.state_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
