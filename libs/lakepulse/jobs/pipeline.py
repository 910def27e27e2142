"""The main job: generate (when no landing data), ingest, refine, features, kpis, models, score, report.

Runs each step's job in this process with one shared SparkSession, shows progress per step (step,
rows, seconds) and ends with a summary. A failed step stops the run naming the step; running again
continues safely because every step is idempotent.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from dataclasses import dataclass

from pyspark.sql import SparkSession

from lakepulse.app.summary import print_summary
from lakepulse.config import Config
from lakepulse.errors import LakepulseError, UsageError
from lakepulse.jobs import (
    features,
    ingest,
    kpis,
    maintain,
    refine,
    report,
    score,
    train_churn,
    train_pricing,
)
from lakepulse.runtime import delta_io
from lakepulse.runtime.cli import Job


@dataclass(frozen=True)
class Step:
    name: str
    job: Job | None  # None: the sample-data step of a pipeline built without the sample kit
    layers: tuple[str, ...] = ()


def steps(sample: Job | None) -> tuple[Step, ...]:
    return (
        Step("generate", sample),
        Step("ingest", ingest.JOB, ("bronze",)),
        Step("refine", refine.JOB, ("silver",)),
        Step("features", features.JOB, ("gold",)),
        Step("kpis", kpis.JOB, ("gold",)),
        Step("train_churn", train_churn.JOB),
        Step("train_pricing", train_pricing.JOB),
        Step("score", score.JOB, ("gold",)),
        Step("maintain", maintain.JOB),
        Step("report", report.JOB),
    )


STEP_NAMES = tuple(s.name for s in steps(None))


class StepFailed(LakepulseError):
    pass


def _generate_skipped(spark: SparkSession, config: Config, step: Step, asked: bool) -> str | None:
    """Why the sample-data step does not run, or None when it does."""
    when = config.generate.when  # empty_landing (the embedded default), asked or never (a shared lake)
    if asked and when == "never":
        raise UsageError(f"--generate: {config.source_file} sets generate.when to 'never' (a shared lake)")
    if step.job is None:
        return "no sample kit (run jobs/pipeline.py)"
    names = [
        p
        for p in delta_io.list_children(spark, config.paths.landing)
        if not p.rsplit("/", 1)[-1].startswith("_")
    ]
    if names:
        return "landing data already present"
    if when == "never" or (when == "asked" and not asked):
        return f"generate.when is {when!r}"
    return None


def _rows_in_layers(spark: SparkSession, config: Config, layers: tuple[str, ...]) -> int | None:
    if not layers:
        return None
    total = 0
    for layer in layers:
        for path in delta_io.list_tables(spark, f"{config.paths.lake}/{layer}"):
            total += delta_io.read_delta(spark, path).count()
    return total


def _run_step(step: Step, argv: list[str]) -> None:
    """The step's job in this process; any failure becomes one StepFailed naming the step."""
    try:
        result = step.job.invoke(argv)
    except LakepulseError as exc:
        raise StepFailed(f"step {step.name!r} failed: {exc}") from exc
    except Exception as exc:  # any other crash still names the step, on one line
        raise StepFailed(
            f"step {step.name!r} failed: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
        ) from exc
    if result.exit_code:
        raise StepFailed(f"step {step.name!r} failed: exit code {result.exit_code}; rerun continues safely")


def run_pipeline(
    args: argparse.Namespace, config: Config, spark: SparkSession, sample: Job | None = None
) -> int:
    for name in [*args.skip, *args.only]:
        if name not in STEP_NAMES:
            raise UsageError(f"unknown step {name!r} (steps: {', '.join(STEP_NAMES)})")
    passthrough = ["--env", args.env, "--config", config.source_file]
    for item in args.overrides:
        passthrough += ["--set", item]
    if args.remote:
        passthrough += ["--remote", args.remote]
    print(f"{'step':<14}{'status':<22}{'rows':>12}{'seconds':>10}", flush=True)
    for step in steps(sample):
        if (args.only and step.name not in args.only) or step.name in args.skip:
            _progress(step.name, "skipped (asked)", None, 0.0)
            continue
        reason = _generate_skipped(spark, config, step, args.generate) if step.name == "generate" else None
        if reason:
            _progress(step.name, f"skipped: {reason}", None, 0.0)
            continue
        started = time.monotonic()
        _run_step(step, passthrough)
        _progress(step.name, "done", _rows_in_layers(spark, config, step.layers), time.monotonic() - started)
    print_summary(spark, config)
    return 0


def _progress(step: str, status: str, rows: int | None, seconds: float) -> None:
    print(f"{step:<14}{status:<22}{'' if rows is None else rows:>12}{seconds:>10.1f}", flush=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--skip", action="append", default=[], metavar="STEP", help="skip a step (repeatable)"
    )
    parser.add_argument("--only", action="append", default=[], metavar="STEP", help="run only these steps")
    parser.add_argument(
        "--generate",
        action="store_true",
        help="generate sample data into an empty landing folder (refused where generate.when is 'never')",
    )


def pipeline_job(sample: Job | None = None) -> Job:
    """The pipeline, with `sample` (the sample kit's generate job) as its first step when given.

    The library never imports the sample kit: jobs/pipeline.py, outside it, passes the step in."""
    return Job(
        "pipeline",
        __doc__,
        functools.partial(run_pipeline, sample=sample),
        add_arguments,
        over_connect=functools.partial(_over_connect, sample=sample),
    )


def _over_connect(args: argparse.Namespace, sample: Job | None = None) -> str | None:
    """The first step this run would take that cannot run over Spark Connect, and why."""
    for step in steps(sample):
        if step.job is None or (args.only and step.name not in args.only) or step.name in args.skip:
            continue
        why = step.job.over_connect(step.job.parser().parse_args([]))
        if why:
            return f"step {step.name!r} (skip it with --skip {step.name}): {why}"
    return None


JOB = pipeline_job()
main = JOB.main


if __name__ == "__main__":  # python -m lakepulse.jobs.pipeline
    sys.exit(main())
