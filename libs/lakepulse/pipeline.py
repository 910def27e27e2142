"""The pipeline: every job in order, in one process and one SparkSession, with progress and a summary.

Each step is a job of its own (jobs/<step>.py) with the same `main(argv)` that spark-submit runs, so
the pipeline adds no second code path: it passes the same config file and overrides on to each step.
Steps whose job does not exist yet are reported as such rather than failing the run.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakepulse import delta_io
from lakepulse.config import PROJECT_ROOT, Config
from lakepulse.errors import LakepulseError, UsageError

log = logging.getLogger("lakepulse.pipeline")
JOBS_DIR = PROJECT_ROOT / "jobs"


@dataclass(frozen=True)
class Step:
    name: str
    layers: tuple[str, ...] = ()
    # Skips the step when it returns a reason (for example: landing data already there).
    skip_if: Callable[[SparkSession, Config], str | None] | None = None
    extra_args: tuple[str, ...] = field(default_factory=tuple)


def _landing_has_data(spark: SparkSession, config: Config) -> str | None:
    names = [
        p
        for p in delta_io.list_children(spark, config.paths.landing)
        if not p.rsplit("/", 1)[-1].startswith("_")
    ]
    return "landing data already present" if names else None


STEPS: tuple[Step, ...] = (
    Step("generate", skip_if=_landing_has_data),
    Step("ingest", layers=("bronze",)),
    Step("refine", layers=("silver",)),
    Step("features", layers=("gold",)),
    Step("kpis", layers=("gold",)),
    Step("train_churn"),
    Step("train_pricing"),
    Step("score", layers=("gold",)),
    Step("maintain"),
    Step("report"),
)


class StepFailed(LakepulseError):
    pass


def _load_job(name: str):
    path = JOBS_DIR / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"lakepulse_job_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows_in_layers(spark: SparkSession, config: Config, layers: tuple[str, ...]) -> int | None:
    if not layers:
        return None
    total = 0
    for layer in layers:
        for path in delta_io.list_tables(spark, f"{config.paths.lake}/{layer}"):
            total += delta_io.read_delta(spark, path).count()
    return total


def run_pipeline(args: argparse.Namespace, config: Config, spark: SparkSession) -> int:
    names = [s.name for s in STEPS]
    for name in [*args.skip, *args.only]:
        if name not in names:
            raise UsageError(f"unknown step {name!r} (steps: {', '.join(names)})")
    passthrough = ["--env", args.env, "--config", config.source_file]
    for item in args.overrides:
        passthrough += ["--set", item]

    print(f"{'step':<14}{'status':<22}{'rows':>12}{'seconds':>10}", flush=True)
    for step in STEPS:
        if (args.only and step.name not in args.only) or step.name in args.skip:
            _progress(step.name, "skipped (asked)", None, 0.0)
            continue
        if not (JOBS_DIR / f"{step.name}.py").is_file():
            _progress(step.name, "not available yet", None, 0.0)
            continue
        reason = step.skip_if(spark, config) if step.skip_if else None
        if reason:
            _progress(step.name, f"skipped: {reason}", None, 0.0)
            continue
        started = time.monotonic()
        errors = io.StringIO()  # the step's own one-line error, folded into the pipeline's
        try:
            with contextlib.redirect_stderr(errors):
                code = _load_job(step.name).main([*passthrough, *step.extra_args])
        except LakepulseError as exc:
            raise StepFailed(f"step {step.name!r} failed: {exc}") from exc
        except Exception as exc:  # any other crash still names the step, on one line
            raise StepFailed(
                f"step {step.name!r} failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"
            ) from exc
        finally:
            sys.stderr.write(_without_job_error(errors.getvalue(), step.name))
        if code:
            reason = _job_error(errors.getvalue(), step.name) or f"exit code {code}"
            raise StepFailed(f"step {step.name!r} failed: {reason}; rerun continues safely")
        _progress(step.name, "done", _rows_in_layers(spark, config, step.layers), time.monotonic() - started)
    print_summary(spark, config)
    return 0


def _job_error(stderr: str, job: str) -> str | None:
    """The message of the job's one-line error (`lakepulse JOB: error: ...`), if it printed one."""
    prefix = f"lakepulse {job}: error: "
    lines = [line[len(prefix) :] for line in stderr.splitlines() if line.startswith(prefix)]
    return lines[-1] if lines else None


def _without_job_error(stderr: str, job: str) -> str:
    prefix = f"lakepulse {job}: error: "
    return "".join(line for line in stderr.splitlines(keepends=True) if not line.startswith(prefix))


def _progress(step: str, status: str, rows: int | None, seconds: float) -> None:
    print(f"{step:<14}{status:<22}{'' if rows is None else rows:>12}{seconds:>10.1f}", flush=True)


# The figures a reader compares champions by (docs/models.md); those a run did not log are left out.
CHAMPION_METRICS = {
    "lakepulse-churn": ("test_roc_auc", "test_pr_auc", "baseline_recency_roc_auc", "auc_ratio_to_oracle"),
    "lakepulse-pricing": ("test_rmse_log_units", "mean_r2", "max_elasticity_rel_error"),
}


def _print_champions(config: Config) -> None:
    from mlflow import MlflowClient

    from lakepulse.models import registry, tracking

    tracking.setup_mlflow(config)
    client = MlflowClient()
    print("\nChampions (MLflow registry):")
    for name, keys in CHAMPION_METRICS.items():
        version = registry.champion_version(client, name)
        if version is None:
            print(f"  {name:<20}none registered yet")
            continue
        metrics = client.get_run(version.run_id).data.metrics
        shown = ", ".join(f"{k}={metrics[k]:.4f}" for k in keys if k in metrics)
        print(f"  {name:<20}v{version.version} ({registry.CHAMPION})  {shown}")


def print_summary(spark: SparkSession, config: Config) -> None:
    print("\nTables (rows):")
    for layer in ("bronze", "silver", "gold"):
        for path in delta_io.list_tables(spark, f"{config.paths.lake}/{layer}"):
            print(
                f"  {layer}/{path.rstrip('/').rsplit('/', 1)[-1]:<28}{delta_io.read_delta(spark, path).count():>12}"
            )
    quarantine = config.table_path("bronze", "quarantine")
    if delta_io.is_delta(spark, quarantine):
        print("\nQuarantine (source, reason, records):")
        # Bounded collect: one row per (source, reason), a few dozen at most.
        rows = delta_io.read_delta(spark, quarantine).groupBy("source", "reason").agg(F.count("*").alias("n"))
        for r in rows.orderBy("source", "reason").collect():
            print(f"  {r['source']:<14}{r['reason']:<36}{r['n']:>8}")
    kpis = config.table_path("gold", "kpi_daily")
    if delta_io.is_delta(spark, kpis):
        print("\nLast day's KPIs:")
        df = delta_io.read_delta(spark, kpis)
        last = df.agg(F.max("date")).first()[0]
        overall = df.filter(F.col("date") == F.lit(last))
        if "dimension" in df.columns:
            overall = overall.filter(F.col("dimension") == "all")
        for row in overall.limit(1).collect():
            for key, value in row.asDict().items():
                print(f"  {key:<28}{value}")
    _print_champions(config)
    report = Path(config.paths.reports) / "index.html"
    print(f"\nLake:        {config.paths.lake}")
    print(f"Landing:     {config.paths.landing}")
    if report.exists():
        print(f"Report:      {report}")
    print(f"MLflow UI:   make mlflow-ui   (tracking store {config.mlflow.tracking_uri})")
