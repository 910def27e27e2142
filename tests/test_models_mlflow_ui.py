"""The documented MLflow UI command: a real server over a test store, read through its REST API."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest
import requests

from lakepulse.app import mlflow_ui
from lakepulse.ml import tracking
from tests.conftest import make_config

START_TIMEOUT_S = 240  # a cold `mlflow server` start is slow on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def store(tmp_path):
    """A local store holding one run and one registered model version."""
    import mlflow
    import mlflow.pyfunc

    home = tmp_path / "home"
    config = make_config(home)
    tracking.setup_mlflow(config)

    class Echo(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
            return model_input

    with mlflow.start_run(run_name="ui-check") as run:
        mlflow.log_metric("test_roc_auc", 0.9)
        info = mlflow.pyfunc.log_model(name="model", python_model=Echo(), pip_requirements=["mlflow"])
    mlflow.register_model(info.model_uri, "lakepulse-ui-check")
    return home, config, run.info.run_id


def wait_for_health(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"mlflow_ui exited early with code {process.returncode}")
        try:
            if requests.get(f"{base}/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise AssertionError(f"no /health answer from {base} within {START_TIMEOUT_S} s")


def test_mlflow_ui_serves_runs_and_registered_models_over_rest(store, tmp_path):
    home, config, run_id = store
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "LAKEPULSE_HOME"}
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lakepulse.app.mlflow_ui",
            "--port",
            str(port),
            "--set",
            f"paths.home={home}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,  # its own process group: the server and its workers stop together
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base, process)
        experiments = requests.get(
            f"{base}/api/2.0/mlflow/experiments/search", params={"max_results": 100}, timeout=30
        )
        experiment = next(
            e for e in experiments.json()["experiments"] if e["name"] == config.mlflow.experiment
        )
        runs = requests.post(
            f"{base}/api/2.0/mlflow/runs/search",
            json={"experiment_ids": [experiment["experiment_id"]]},
            timeout=30,
        ).json()["runs"]
        assert [r["info"]["run_id"] for r in runs] == [run_id]
        assert runs[0]["data"]["metrics"][0]["key"] == "test_roc_auc"
        models = requests.get(f"{base}/api/2.0/mlflow/registered-models/search", timeout=30).json()
        assert [m["name"] for m in models["registered_models"]] == ["lakepulse-ui-check"]
        page = requests.get(f"{base}/", timeout=30)
        assert page.status_code == 200 and "<html" in page.text.lower()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        log.close()


def test_server_command_binds_loopback_over_the_configured_stores(tmp_path):
    config = make_config(tmp_path / "home")
    command = mlflow_ui.server_command(config, 5055)
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--backend-store-uri") + 1] == config.mlflow.tracking_uri
    assert command[command.index("--default-artifact-root") + 1] == config.mlflow.artifact_root


def test_a_remote_tracking_server_is_refused_with_one_line(tmp_path, capsys):
    code = mlflow_ui.main(
        ["--set", f"paths.home={tmp_path}", "--set", "mlflow.tracking_uri=http://mlflow:5000"]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "mlflow.tracking_uri" in err
