"""Runs a lakepulse job that kills its own process (SIGKILL, no cleanup) right after one named write.

    python tests/faults/crash.py <step> jobs/<job>.py [job arguments...]

Steps: `bronze:<source>`, `quarantine`, `expectations`, `audit`, `plan` (ingest: right after that
commit) and `refine-state:planned`, `refine:<unit>`, `refine-state:done` (refine: after the step's
state row, after a unit's silver write). The product has no hook for this: the wrapper replaces the write functions on their modules
before the job starts, so the commit path that runs is the one users run, plus a kill after it.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import runpy
import signal
import sys
from collections.abc import Callable

log = logging.getLogger("tests.faults")


def _kill(step: str) -> None:
    log.warning("fault injection: killing the process after %s", step)
    os.kill(os.getpid(), signal.SIGKILL)


def _after(function: Callable, step: str, wanted: str, name_of: Callable[..., str] | None = None) -> Callable:
    """`function`, then the kill when `step` (or `step:<name_of(args)>`) is `wanted`."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        result = function(*args, **kwargs)
        here = f"{step}:{name_of(*args)}" if name_of else step
        if here == wanted:
            _kill(here)
        return result

    return wrapper


def install(wanted: str) -> None:
    """Wraps the ingest and refine writes so that the process dies right after the `wanted` one."""
    from lakepulse.bronze import batch
    from lakepulse.silver import runner

    batch._write_bronze = _after(batch._write_bronze, "bronze", wanted, lambda *a: a[3].source.name)
    for name, step in (("_write_quarantine", "quarantine"), ("_write_expectation_results", "expectations")):
        setattr(batch, name, _after(getattr(batch, name), step, wanted))
    batch._write_audit = _after(batch._write_audit, "audit", wanted)
    batch.write_plan = _after(batch.write_plan, "plan", wanted)
    runner._record_state = _after(runner._record_state, "refine-state", wanted, lambda *a: a[3])
    for name, unit in list(runner.UNIT_BY_NAME.items()):
        step = _after(unit.step, "refine", wanted, lambda *_a, n=name: n)
        runner.UNIT_BY_NAME[name] = dataclasses.replace(unit, step=step)


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit("usage: crash.py <step> <job file> [job arguments...]")
    wanted, job_file, *job_args = argv
    install(wanted)
    sys.argv = [job_file, *job_args]
    runpy.run_path(job_file, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
