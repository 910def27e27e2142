"""The jobs end to end over Spark Connect: a server started from the installed pyspark, clients with --remote.

The server is pyspark's own SparkConnectServer (spark-submit --class ...) with Delta's two jars, its SQL
extension and catalog, on a free loopback port; the test starts it and stops it by its pid. Each job
runs in its own Python process as a thin Connect client (no JVM of its own), like `jobs/JOB.py
--remote sc://...`. kpi_daily is then checked against DuckDB's computation from the silver Delta files
(bench/duckdb_kpis.py, read through delta-rs): neither Spark nor lakepulse's code is the oracle.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from deltalake import DeltaTable as RustDeltaTable

from lakepulse.config import PROJECT_ROOT, load_config
from lakepulse.runtime import connect
from lakepulse.runtime.jars import ensure_delta_jars
from lakepulse.runtime.spark_conf import DELTA_CONF
from tests import gold_fixtures as fx
from tests.delta_read import rs_frame

CUSTOMERS, DAYS = 40, 21
CONNECT_KEY = "connect-test-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """sc://127.0.0.1:PORT of a Spark Connect server with Delta Lake, stopped by its pid afterwards."""
    import pyspark

    work = tmp_path_factory.mktemp("connect-server")
    port = free_port()
    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    conf = {
        **DELTA_CONF,
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.ui.enabled": "false",
        "spark.driver.memory": "2g",
        "spark.sql.warehouse.dir": str(work / "warehouse"),
        "spark.driver.extraJavaOptions": f"-Dlog4j.configurationFile=file:{PROJECT_ROOT}/conf/log4j2.properties",
    }
    command = [str(submit), "--master", "local[2]", "--jars", ",".join(str(p) for p in ensure_delta_jars())]
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    command += ["--class", "org.apache.spark.sql.connect.service.SparkConnectServer", "spark-internal"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_GATEWAY", "SPARK_REMOTE"))}
    env["PYSPARK_PYTHON"] = sys.executable
    log_path = work / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work)
    try:
        deadline = time.monotonic() + 300
        while not listening(port):
            assert proc.poll() is None, f"the Connect server exited: {log_path.read_text()[-3000:]}"
            assert time.monotonic() < deadline, (
                f"no Connect server after 300 s: {log_path.read_text()[-3000:]}"
            )
            time.sleep(1)
        yield f"sc://127.0.0.1:{port}"
    finally:
        _stop(proc)


def run_job(job: str, home: Path, remote: str, *extra: str) -> subprocess.CompletedProcess:
    """jobs/JOB.py as a Connect client in its own process (no classic session, no JVM)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_GATEWAY", "SPARK_REMOTE"))}
    inherited = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT / "libs"), str(PROJECT_ROOT), *inherited])
    env["LAKEPULSE_PSEUDONYM_KEY"] = CONNECT_KEY
    command = [sys.executable, str(PROJECT_ROOT / "jobs" / f"{job}.py"), "--remote", remote]
    command += [
        "--set",
        f"paths.home={home}",
        *[a for item in fx.GOLD_OVERRIDES for a in ("--set", item)],
        *extra,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=PROJECT_ROOT)


@pytest.fixture(scope="module")
def lake(server, tmp_path_factory):
    home = tmp_path_factory.mktemp("connect-home")
    steps = [
        (
            "generate",
            ["--customers", str(CUSTOMERS), "--days", str(DAYS), "--set", "generate.files_per_day=1"],
        ),
        ("ingest", []),
        ("refine", []),
        ("features", []),
        ("kpis", []),
    ]
    for job, extra in steps:
        done = run_job(job, home, server, *extra)
        assert done.returncode == 0, f"{job} over Spark Connect: {done.stderr[-4000:]}"
    return home


@pytest.mark.slow
def test_jobs_run_end_to_end_over_connect_and_kpi_daily_matches_duckdb(lake):
    from bench import duckdb_kpis

    config = load_config("local", None, [f"paths.home={lake}", *fx.GOLD_OVERRIDES])
    written = RustDeltaTable(config.table_path("gold", "kpi_daily")).to_pandas()
    assert len(written) > 0
    first, last = min(written["date"]), max(written["date"])
    silver = Path(config.table_path("silver", "events")).parent
    frame = duckdb_kpis.kpi_daily(
        silver, first, last, config.gold.churn_horizon_days, config.gold.churn_active_days, threads=2
    )

    def plain(df: pd.DataFrame) -> list[dict]:
        return [
            {
                c: None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v
                for c, v in r.items()
            }
            for r in df.to_dict("records")
        ]

    got = plain(written)
    for r in got:  # delta-rs gives dates as pandas timestamps or datetime.date, DuckDB as date
        r["date"] = r["date"].date() if hasattr(r["date"], "date") else r["date"]
    expected = plain(frame)
    assert sorted(written.columns) == sorted(frame.columns)
    assert len(got) == len(expected) and any(r["sessions"] for r in got)
    fx.assert_same_rows(got, expected, keys=("date", "dimension", "segment"))
    assert isinstance(first, dt.date)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("job", "extra", "reason"),
    [
        ("train_churn", [], connect.MLFLOW_SPARK_FLAVOUR),
        ("score", [], connect.MLFLOW_SPARK_FLAVOUR),
        ("ingest", ["--stream"], connect.FOREACH_BATCH),
    ],
)
def test_parts_that_cannot_run_over_connect_stop_with_one_line(lake, server, job, extra, reason):
    done = run_job(job, lake, server, *extra)
    lines = [line for line in done.stderr.splitlines() if line.startswith(f"lakepulse {job}: error:")]
    assert done.returncode != 0
    assert lines == [f"lakepulse {job}: error: cannot run over Spark Connect: {reason}"], done.stderr[-3000:]


@pytest.mark.slow
def test_train_pricing_runs_over_connect(lake, server):
    """The pricing model fits on pandas in the client and logs to MLflow without the Spark flavour."""
    done = run_job("train_pricing", lake, server)
    assert done.returncode == 0, done.stderr[-4000:]
    config = load_config("local", None, [f"paths.home={lake}"])
    assert len(RustDeltaTable(config.table_path("gold", "price_elasticities")).to_pandas()) > 0


@pytest.mark.slow
def test_forget_runs_over_connect(lake, server):
    """Erasure is Delta SQL (a MERGE ... WHEN MATCHED THEN DELETE): the customer leaves bronze and silver."""
    from lakepulse import privacy

    config = load_config("local", None, [f"paths.home={lake}"])
    customers = RustDeltaTable(config.table_path("bronze", "customers")).to_pandas()
    target = str(customers["customer_id"].dropna().iloc[0])
    key = privacy.pseudonymise_value(target, CONNECT_KEY.encode())
    assert (rs_frame(config.table_path("silver", "customers"))["customer_key"] == key).any()
    done = run_job("forget", lake, server, "--customer", target)
    assert done.returncode == 0, done.stderr[-4000:]
    assert target not in set(
        RustDeltaTable(config.table_path("bronze", "customers")).to_pandas()["customer_id"]
    )
    # silver/customers has deletion vectors: delta-rs' DataFusion reader applies them.
    assert key not in set(rs_frame(config.table_path("silver", "customers"))["customer_key"])
    assert target not in done.stderr


def test_the_pipeline_names_its_first_step_that_cannot_run_over_connect():
    """No Spark: the pipeline's check walks its steps as this run would take them."""
    from lakepulse.jobs import pipeline

    job = pipeline.pipeline_job()
    why = job.over_connect(job.parser().parse_args([]))
    assert why == f"step 'train_churn' (skip it with --skip train_churn): {connect.MLFLOW_SPARK_FLAVOUR}"
    why = job.over_connect(job.parser().parse_args(["--skip", "train_churn"]))
    assert why is not None and why.startswith("step 'score'")
    assert job.over_connect(job.parser().parse_args(["--skip", "train_churn", "--skip", "score"])) is None
    assert job.over_connect(job.parser().parse_args(["--only", "ingest"])) is None
