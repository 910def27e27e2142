"""Refine's claim on a version: the planned commit of _ops/_refine_state, which only one run can make.

Two refines that plan the same version write its planned rows with one idempotent-write id, so Delta
keeps the first run's rows (the second's append is skipped, or retried after a conflict and then
skipped). The run whose rows are not there must write nothing: it would refine batches the other run
refines, or leave its own extra batches claimed by nobody's done row.
"""

from __future__ import annotations

from deltalake import DeltaTable as RustDeltaTable

from lakepulse.ops.runs import make_batch_id, now_text
from lakepulse.silver import runner


def step(run_id: str, *batches: int) -> runner.Step:
    return runner.Step(
        0, (("events", tuple(make_batch_id(b) for b in batches)),), run_id, now_text(), False, {}
    )


def states(config) -> list[tuple[str, str, str]]:
    frame = RustDeltaTable(config.table_path("_ops", "_refine_state")).to_pandas()
    return sorted(zip(frame["run_id"], frame["state"], frame["ingest_batch_id"], strict=True))


def test_a_version_claimed_by_another_run_is_left_to_it(spark, config):
    first, second = step("run-a", 1), step("run-b", 1, 2)
    runner._record_state(spark, config, first, "planned")  # run-a planned version 0 and is still at work

    assert runner.run_step(spark, config, second, b"key") is None
    # run-b's plan was not recorded and it recorded nothing done: version 0 is run-a's alone.
    assert states(config) == [("run-a", "planned", make_batch_id(1))]

    # The holder itself goes on (its plan is already there) and records the version done.
    assert runner.run_step(spark, config, first, b"key") is not None
    assert states(config) == [("run-a", "done", make_batch_id(1)), ("run-a", "planned", make_batch_id(1))]
