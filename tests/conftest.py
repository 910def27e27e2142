"""All Spark test configuration in one place: one Delta-enabled session for the whole run.

Each test writes under its own temporary folder; the session is built by the same factory the jobs
use, from conf/local.yaml with test-sized overrides.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from lakepulse.config import Config, load_config

# Every run of the suite, its job subprocesses included, pseudonymises with this key: tests compute the
# expected hashes from it, and no test depends on the sample-data fallback unless it asks for it.
TEST_PSEUDONYM_KEY = "lakepulse-test-pseudonym-key"
os.environ["LAKEPULSE_PSEUDONYM_KEY"] = TEST_PSEUDONYM_KEY

TEST_SPARK_OVERRIDES = [
    "spark.master=local[2]",
    "spark.shuffle_partitions=2",
    "spark.conf.spark.ui.enabled=false",
    "spark.conf.spark.driver.memory=2g",
    "spark.conf.spark.sql.adaptive.coalescePartitions.enabled=false",
    "spark.conf.spark.databricks.delta.snapshotPartitions=2",
    "spark.conf.spark.sql.sources.parallelPartitionDiscovery.parallelism=2",
    # Tests write landing files just before ingesting them: waiting for them to settle would test
    # nothing (test_file_identity sets it where a file grows).
    "ingest.settle_seconds=0",
]


def make_config(home: Path, *extra: str, env: str = "local"):
    """A config whose every path lives under `home` (a test's own folder)."""
    return load_config(
        env,
        overrides=[*TEST_SPARK_OVERRIDES, f"paths.home={home}", *extra],
        environ={k: v for k, v in os.environ.items() if k != "LAKEPULSE_HOME"},
    )


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from lakepulse.runtime.session import build_session

    config = make_config(tmp_path_factory.mktemp("session-home"))
    session = build_session(config, app_name="lakepulse-tests")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def config(home):
    return make_config(home)


def load_job(name: str):
    """The job that `jobs/<name>.py` runs: tests call the same `main(argv)` that spark-submit runs.

    `generate` and the `pipeline` that starts with it come from the sample kit, as jobs/ wires them."""
    if name in ("generate", "pipeline"):
        from lakepulse_sample import cli

        return cli.GENERATE if name == "generate" else cli.PIPELINE
    return importlib.import_module(f"lakepulse.jobs.{name}").JOB


def job_argv(home: Path, *overrides: str) -> list[str]:
    """argv for a job's `main()`: the test-sized Spark settings, the home, then `overrides` (each a --set)."""
    argv: list[str] = []
    for item in (*TEST_SPARK_OVERRIDES, f"paths.home={home}", *overrides):
        argv += ["--set", item]
    return argv


# The sample the end-to-end tests share (one `pipeline` run per test session): big enough for the
# planted promo segment, search surge, cost anomalies, elasticities and churn probabilities to show,
# small enough for 2 cores. The churn look-back and horizon are 14 days (not 30) so that 75 days hold
# a training, validation and test period; docs/models.md explains the comparison with the planted truth.
# One hyperopt trial per model family: tuning itself (trials, nested runs, best of a family) is tested
# on its own sample (test_models_churn); here a single draw must already meet the planted-truth bars.
PIPELINE_SAMPLE = (
    "generate.customers=800",
    "generate.days=75",
    "gold.churn_horizon_days=14",
    "gold.churn_active_days=14",
    "models.as_of_every_days=2",
    "models.max_evals=1",
    "models.gbt_max_iter=20",
)


@dataclass(frozen=True)
class PipelineRun:
    config: Config
    output: str  # what the pipeline printed: progress per step and the summary


@pytest.fixture(scope="session")
def pipeline_lake(spark, tmp_path_factory) -> PipelineRun:
    """One run of the main job, generate -> ... -> report, on the shared sample.

    While iterating on the end-to-end tests, LAKEPULSE_TEST_PIPELINE_HOME=DIR keeps the run in DIR and
    reuses it on the next test session (delete DIR to run the pipeline again).
    """
    kept = os.environ.get("LAKEPULSE_TEST_PIPELINE_HOME")
    home = Path(kept) if kept else tmp_path_factory.mktemp("pipeline") / "home"
    saved = home / "pipeline-output.txt"
    if kept and saved.is_file():
        return PipelineRun(make_config(home, *PIPELINE_SAMPLE), saved.read_text())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = load_job("pipeline").main(job_argv(home, *PIPELINE_SAMPLE))
    sys.stdout.write(out.getvalue())
    assert code == 0, out.getvalue()[-2000:]
    saved.write_text(out.getvalue())
    return PipelineRun(make_config(home, *PIPELINE_SAMPLE), out.getvalue())


def pytest_xdist_make_scheduler(config, log):
    """`make test`'s two workers (pytest-xdist): a test module runs whole on one worker, so its
    module-scoped lakes are built once, and the modules using the session's pipeline run (`pipeline_lake`,
    minutes to build) share one worker, so only one builds it.

    A scheduler of our own because xdist 3.8's `loadgroup` marks do not reach pytest 9's test ids (it
    sets `Item._nodeid`, which pytest 9 no longer reads); its module scheduling is kept, with the
    pipeline modules as one scope.
    """
    from xdist.scheduler import LoadScopeScheduling

    @functools.cache
    def scope_of(module: str) -> str:  # read once per module, not once per test
        path = Path(config.rootpath) / module
        uses_pipeline = path.is_file() and "pipeline_lake" in path.read_text(encoding="utf-8")
        return "pipeline_lake" if uses_pipeline and path.name != "conftest.py" else module

    class ModulesScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid.split("::", 1)[0])

    return ModulesScheduling(config, log)
