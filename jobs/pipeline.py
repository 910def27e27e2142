"""The main job: generate (when no landing data), ingest, refine, features, kpis, models, score, report.

Runs each step's job in this process with one shared SparkSession, shows progress per step (step,
rows, seconds) and ends with a summary. A failed step stops the run naming the step; running again
continues safely because every step is idempotent.
"""

from __future__ import annotations

import sys

from lakepulse.cli import job_parser, run
from lakepulse.pipeline import run_pipeline


def main(argv: list[str] | None = None) -> int:
    parser = job_parser("pipeline", __doc__)
    parser.add_argument(
        "--skip", action="append", default=[], metavar="STEP", help="skip a step (repeatable)"
    )
    parser.add_argument("--only", action="append", default=[], metavar="STEP", help="run only these steps")
    return run("pipeline", parser, argv, run_pipeline)


if __name__ == "__main__":
    sys.exit(main())
