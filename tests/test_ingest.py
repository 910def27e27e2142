"""`ingest` on hand-written landing files: every record accounted for, against the truth planted in them.

The fixture (tests/ingest_fixtures.py) writes each source's files record by record and notes, as it
goes, which records are bad and why, which are duplicates, and which file is truncated.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from collections import Counter

import pytest
from pyspark.sql import functions as F

from tests.ingest_fixtures import (
    CUSTOMER_HEADER,
    DAYS,
    Truth,
    _customer,
    fixture_lake,
    landing_text,
    rows,
    run,
    table,
    versions,
    write_events,
    write_landing,
)

SOURCES = ("events", "access_logs", "app_logs", "billing", "customers", "prices", "weather")
VOLATILE = ("run_id", "ingested_at", "quarantined_at", "started_at", "finished_at", "recorded_at", "mode")


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return fixture_lake(tmp_path_factory)


def test_audit_reconciles_exactly_with_the_planted_truth(spark, lake):
    home, truth = lake
    audit = {r.source: r for r in table(spark, home, "_ops", "ingest_audit").collect()}
    assert set(audit) == set(SOURCES)
    for source in SOURCES:
        a = audit[source]
        bad = sum(truth.bad.get(source, Counter()).values())
        assert a.records_read == truth.records[source], source
        assert a.quarantined == bad, source
        assert a.duplicates_dropped == truth.duplicates[source], source
        assert a.loaded == truth.loaded(source), source
        assert a.records_read == a.loaded + a.quarantined + a.duplicates_dropped
        assert a.files_read == truth.files[source], source
        assert a.corrupt_files == len(truth.corrupt_files.get(source, [])), source


def test_quarantine_holds_every_bad_record_with_its_reason(spark, lake):
    home, truth = lake
    quarantine = table(spark, home, "bronze", "quarantine")
    got: dict[str, Counter] = {}
    for r in quarantine.where(F.col("reason") != "corrupt_file").collect():
        got.setdefault(r.source, Counter())[r.reason] += 1
        assert r.stage == "ingest" and r.raw is not None and r.source_file.startswith("file:")
    assert got == truth.bad
    files = quarantine.where(F.col("reason") == "corrupt_file").collect()
    assert [(r.source, os.path.basename(r.source_file), r.raw) for r in files] == [
        ("events", truth.corrupt_files["events"][0], None)
    ]


def test_no_raw_line_reaches_the_quarantine_log(spark, lake):
    """Delta statistics copy a column's smallest and largest values into _delta_log: never the raw lines."""
    home, _ = lake
    raws = [
        r.raw for r in table(spark, home, "bronze", "quarantine").where(F.col("raw").isNotNull()).collect()
    ]
    assert raws  # the fixture plants bad records: the check below has lines to look for
    logged: set[str] = set()
    commits = sorted((home / "lake/bronze/quarantine/_delta_log").glob("*.json"))
    for line in (x for path in commits for x in path.read_text(encoding="utf-8").splitlines()):
        stats = json.loads(line).get("add", {}).get("stats")
        if stats:
            for bound in ("minValues", "maxValues"):
                logged.update(json.loads(stats).get(bound, {}))
    assert logged, "the bookkeeping columns keep their statistics (file skipping by batch)"
    assert not logged & {"raw", "source_file"}, sorted(logged)


def test_bronze_holds_exactly_the_loaded_records_as_received(spark, lake):
    home, truth = lake
    landing_lines = set()
    for path in (home / "landing").rglob("part-*"):
        if path.suffix != ".gz":
            landing_lines.update(landing_text(path).splitlines())
    for source in SOURCES:
        bronze = table(spark, home, "bronze", source)
        assert bronze.count() == truth.loaded(source), source
        if source != "events":  # events' day 2 is gzipped; its lines are checked below
            assert {r.raw for r in bronze.select("raw").collect()} <= landing_lines
    events = table(spark, home, "bronze", "events")
    ids = [r.event_id for r in events.select("event_id").collect()]
    assert len(ids) == len(set(ids)), "bronze events must be unique on event_id"
    # Bad records never reach bronze (their ids are known from the fixture).
    assert not {"e-000000000101-fx", "e-000000000104-fx", "e-000000000400-fx"} & set(ids)
    # Partitioned by the event's day, with the landing folder's day kept as ingest_date.
    late = events.where(F.col("event_id") == "e-000000000300-fx").first()
    assert (str(late.event_date), str(late.ingest_date)) == (DAYS[0], DAYS[1])
    assert sorted(p.name for p in (home / "lake/bronze/events").glob("event_date=*")) == [
        f"event_date={d}" for d in DAYS
    ]


def test_schema_drift_new_field_lands_and_type_change_is_quarantined(spark, lake):
    home, _ = lake
    events = table(spark, home, "bronze", "events")
    by_id = {r.event_id: r.app_version for r in events.select("event_id", "app_version").collect()}
    # Day 2's own events carry the new field; day 1's (and the late ones from day 1) do not.
    assert {v for k, v in by_id.items() if 200 <= int(k[2:14]) < 230} == {"2.4.1"}
    assert {v for k, v in by_id.items() if int(k[2:14]) < 200 or int(k[2:14]) >= 300} == {None}
    # An unknown extra field fails nothing: the record is loaded and the field kept in `raw`.
    drifted = events.where(F.col("raw").contains('"experiment"')).collect()
    assert len(drifted) == 1 and json.loads(drifted[0].raw)["experiment"] == "checkout-v2"
    # A number sent as a string is a type change: quarantined with its reason, not coerced or nulled.
    quarantine = table(spark, home, "bronze", "quarantine")
    changed = quarantine.where(F.col("reason") == "bad_type:quantity").collect()
    assert len(changed) == 1 and json.loads(changed[0].raw)["quantity"] == "2"


def test_expectation_outcomes_are_recorded_per_batch(spark, lake):
    home, truth = lake
    results = table(spark, home, "_ops", "expectation_results").where(F.col("layer") == "bronze")
    by_rule = {(r.dataset, r.expectation): r for r in results.collect()}
    for source, reasons in truth.bad.items():
        for reason, n in reasons.items():
            assert by_rule[(source, reason)].failed_count == n, (source, reason)
    assert by_rule[("events", "unique:event_id")].failed_count == truth.duplicates["events"]
    warn = by_rule[("billing", "focus:contracted_cost_present")]
    assert (warn.action, warn.failed_count) == ("warn", 0)
    assert by_rule[("events", "negative_price")].rows_checked == truth.records["events"]


def test_running_again_changes_no_table(spark, lake):
    home, _ = lake
    before = versions(home)
    assert run("ingest", home) == 0
    assert versions(home) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "nope"], "invalid choice"),
        (["--path", "/tmp/x.csv"], "--path needs --source"),
        (["--source", "billing", "--path", "/nonexistent/focus.csv"], "does not exist"),
        (["--trigger-interval", "1 minute"], "--trigger-interval needs --stream"),
        (["--source", "events", "--path", "FIFO"], "not a regular file"),
        (["--source", "customers", "--path", "HOME/landing/events"], "in the landing folder of events, not"),
        (["--source", "events", "--path", "HOME/landing"], "holds every source's landing folder"),
    ],
)
def test_bad_command_line_input_is_one_line_and_writes_nothing(spark, tmp_path, capsys, args, message):
    home = tmp_path / "home"
    write_events(home / "landing", Truth())
    if "FIFO" in args:
        fifo = tmp_path / "feed.json"
        os.mkfifo(fifo)
        args = [str(fifo) if a == "FIFO" else a for a in args]
    args = [a.replace("HOME", str(home)) for a in args]
    assert run("ingest", home, *args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lakepulse ingest: error:") and message in err[0]
    assert not (home / "lake").exists()


def test_missing_landing_folder_is_refused_before_any_write(spark, tmp_path, capsys):
    home = tmp_path / "home"
    write_events(home / "landing", Truth())
    assert run("ingest", home) == 2  # the other six sources have no landing folder
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]
    assert not (home / "lake").exists()


def test_streaming_and_batch_ingestion_give_the_same_tables(spark, lake, tmp_path):
    home, _ = lake
    streamed = tmp_path / "streamed"
    shutil.copytree(home / "landing" / "events", streamed / "landing" / "events")
    assert run("ingest", streamed, "--source", "events", "--stream") == 0
    assert (streamed / "lake" / "_checkpoints" / "ingest" / "events").is_dir()
    layers = {"events": "bronze", "quarantine": "bronze"}
    for name in ("events", "quarantine", "expectation_results", "ingest_audit", "_ingested_files"):
        layer = layers.get(name, "_ops")
        batch_rows = table(spark, home, layer, name)
        for column in ("source", "dataset"):
            if column in batch_rows.columns:
                batch_rows = batch_rows.where(F.col(column) == "events")
        if "layer" in batch_rows.columns:  # the shared lake may have been refined by another module's test
            batch_rows = batch_rows.where(F.col("layer") == "bronze")
        stream_rows = table(spark, streamed, layer, name)
        strip = (*VOLATILE, "source_file", "path")
        assert rows(stream_rows, strip) == rows(batch_rows, strip), name
    # The same files, each under its own home's landing folder.
    assert _booked(spark, streamed) == _booked(spark, home)


def _booked(spark, home) -> list[str]:
    booked = table(spark, home, "_ops", "_ingested_files").where(F.col("source") == "events").collect()
    return sorted(os.path.relpath(r.path.removeprefix("file:"), str(home)) for r in booked)


def _stamp_by_day(landing) -> None:
    """Each day folder's files landed the night after their day (a backfill of several days)."""
    for path in landing.rglob("*"):
        day = next((p.removeprefix("date=") for p in path.parts if p.startswith("date=")), None)
        if path.is_file() and day is not None:
            stamp = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp() + 86_400 + 3_600
            os.utime(path, (stamp, stamp))


def test_a_backfill_runs_as_bounded_batches_each_committed_once(spark, lake, tmp_path):
    home, truth = lake
    capped = tmp_path / "capped"
    shutil.copytree(home / "landing", capped / "landing")
    _stamp_by_day(capped / "landing")
    n_files = sum(
        1 for p in (capped / "landing").rglob("*") if p.is_file() and not p.name.startswith((".", "_"))
    )
    cap = 4
    assert run("ingest", capped, "--set", f"ingest.max_files_per_batch={cap}") == 0
    booked = table(spark, capped, "_ops", "_ingested_files").collect()
    sizes = Counter(r.batch_id for r in booked)
    assert len(booked) == n_files and max(sizes.values()) <= cap and len(sizes) == -(-n_files // cap)
    # Oldest files first: no batch holds a file that landed after a file of a later batch.
    by_batch = sorted((r.batch_id, r.modified_at) for r in booked)
    for (b1, t1), (b2, t2) in zip(by_batch, by_batch[1:], strict=False):
        assert b1 == b2 or t1 <= t2
    audit = table(spark, capped, "_ops", "ingest_audit").collect()
    assert {r.batch_id for r in audit} == set(sizes)  # every batch committed
    for source in SOURCES:
        mine = [r for r in audit if r.source == source]
        assert sum(r.records_read for r in mine) == truth.records[source], source
        assert sum(r.loaded for r in mine) == truth.loaded(source), source
        assert sum(r.duplicates_dropped for r in mine) == truth.duplicates[source], source
        keys = [c for c in ("event_id",) if source == "events"]
        if keys:
            ids = [r.event_id for r in table(spark, capped, "bronze", source).select(*keys).collect()]
            assert len(ids) == len(set(ids)) == truth.loaded(source)
    before = versions(capped)
    assert run("ingest", capped, "--set", f"ingest.max_files_per_batch={cap}") == 0
    assert versions(capped) == before


@pytest.mark.parametrize(
    ("sizes", "max_files", "max_bytes", "expected"),
    [
        ([10, 10, 10, 10, 10], 2, 1000, [[10, 10], [10, 10], [10]]),  # the file cap
        ([40, 30, 20, 50, 10], 10, 60, [[40], [30, 20], [50, 10]]),  # the byte cap, order kept
        ([5, 500, 5, 5], 10, 100, [[5], [500], [5, 5]]),  # a file over the byte cap is a batch alone
        ([100, 100], 10, 100, [[100], [100]]),  # exactly the cap fills a batch
        ([], 3, 100, []),
    ],
)
def test_batches_bounded_by_files_and_bytes(sizes, max_files, max_bytes, expected):
    from lakepulse.bronze.files import LandingFile
    from lakepulse.bronze.runner import bounded_batches

    files = [
        ("events", LandingFile(f"file:/l/events/f{i}", n, "2026-01-01 00:00:00.000000"))
        for i, n in enumerate(sizes)
    ]
    got = bounded_batches(files, max_files, max_bytes)
    assert [[f.size for _, f in batch] for batch in got] == expected
    assert [f for batch in got for f in batch] == files  # nothing lost, nothing repeated, order kept


def _data_files_of_first_commit(table_dir) -> list:
    log = json.loads(
        "[" + ",".join((table_dir / "_delta_log" / f"{0:020d}.json").read_text().split("\n")[:-1]) + "]"
    )
    return [table_dir / a["add"]["path"] for a in log if "add" in a]


def test_new_files_are_looked_up_without_reading_old_bookkeeping(spark, tmp_path, monkeypatch):
    """After a year of runs the lookup reads the newest plans and bookings only: deleting the oldest
    bookkeeping files (which any full read would hit) must not matter to a run over newer files."""
    from lakepulse.bronze import runner

    monkeypatch.setattr(runner, "RECENT_PLANS", 1)
    home = tmp_path / "home"
    truth = Truth()
    write_events(home / "landing", truth)
    _stamp_by_day(home / "landing")
    days = sorted((home / "landing" / "events").glob("date=*"))
    old = [p for p in days if p.name != days[-1].name]
    hidden = tmp_path / "later"
    shutil.move(str(days[-1]), hidden)  # the last day lands later
    assert run("ingest", home, "--source", "events") == 0  # batch 0: the first day(s)
    shutil.move(str(hidden), days[-1])
    later = dt.datetime.fromisoformat(DAYS[-1]).replace(tzinfo=dt.UTC).timestamp() + 20 * 86_400
    for path in days[-1].iterdir():
        os.utime(path, (later, later))
    assert run("ingest", home, "--source", "events") == 0  # batch 1: the last day
    extra = days[-1] / "part-late-resend.json"
    extra.write_text(json.dumps({"event_id": "e-extra-1"}) + "\n")  # quarantined (missing fields): 1 record
    os.utime(extra, (later + 3_600, later + 3_600))
    lake_dir = home / "lake" / "_ops"
    for name in ("_ingested_files", "ingest_audit"):
        for f in _data_files_of_first_commit(lake_dir / name):
            f.unlink()  # batch 0's bookkeeping: a run that reads it fails
    assert old and run("ingest", home, "--source", "events") == 0  # batch 2: the new file only
    audit = {
        r.batch_id: r
        for r in table(spark, home, "_ops", "ingest_audit").where("batch_id = 'ingest-00000002'").collect()
    }
    assert [(a.files_read, a.records_read) for a in audit.values()] == [(1, 1)]


def test_bookkeeping_of_a_lake_from_before_the_ops_area_is_moved_once_and_nothing_reloads(spark, tmp_path):
    """A lake whose audit and file bookkeeping still sit in bronze/ (as lakepulse wrote them before the
    _ops area) is adopted: the tables move, history and idempotency markers with them, and a rerun
    loads nothing again (the same home: files are known by their path)."""
    home = tmp_path / "home"
    write_events(home / "landing", Truth())
    assert run("ingest", home, "--source", "events") == 0
    for name in ("ingest_audit", "_ingested_files", "expectation_results"):
        (home / "lake" / "_ops" / name).rename(home / "lake" / "bronze" / name)
    events_before = table(spark, home, "bronze", "events").count()
    batches_before = {r.batch_id for r in table(spark, home, "bronze", "ingest_audit").collect()}

    assert run("ingest", home, "--source", "events") == 0
    for name in ("ingest_audit", "_ingested_files", "expectation_results"):
        assert (home / "lake" / "_ops" / name / "_delta_log").is_dir(), name
        assert not (home / "lake" / "bronze" / name).exists(), name
    assert table(spark, home, "bronze", "events").count() == events_before
    assert {r.batch_id for r in table(spark, home, "_ops", "ingest_audit").collect()} == batches_before


def test_reference_lists_and_the_unknown_value_action_come_from_the_configuration(spark, tmp_path):
    """A plan the default list does not know: listed in `reference.plans` it loads; with
    `reference.unknown_values.customers=keep` it loads and is counted as a warning; by default the
    fixture's `platinum` customer is quarantined as unknown_plan (test_quarantine_...)."""
    lines = [
        CUSTOMER_HEADER,
        _customer(1, "platinum", f"{DAYS[0]}T08:00:00Z"),
        _customer(2, "basic", f"{DAYS[0]}T09:00:00Z"),
    ]
    for name, overrides in (
        ("listed", ['reference.plans=["basic", "standard", "premium", "platinum"]']),
        ("kept", ["reference.unknown_values.customers=keep"]),
    ):
        home = tmp_path / name
        target = home / "landing" / "customers" / f"date={DAYS[0]}" / "part-00000.csv"
        target.parent.mkdir(parents=True)
        target.write_text("\n".join(lines) + "\n")
        args = [a for o in overrides for a in ("--set", o)]
        assert run("ingest", home, "--source", "customers", *args) == 0, name
        plans = sorted(r.plan for r in table(spark, home, "bronze", "customers").collect())
        assert plans == ["basic", "platinum"], name
        outcome = {
            r.expectation: (r.action, r.failed_count)
            for r in table(spark, home, "_ops", "expectation_results").collect()
            if r.expectation == "unknown_plan"
        }
        assert outcome == {
            "unknown_plan": ("warn" if name == "kept" else "quarantine", 1 if name == "kept" else 0)
        }


def test_an_unknown_source_in_the_unknown_value_actions_is_refused(tmp_path, capsys):
    code = run("ingest", tmp_path / "home", "--set", "reference.unknown_values.event=keep")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "unknown source 'event'" in err[0], err


def test_a_source_ingested_after_another_loses_none_of_its_older_files(spark, tmp_path):
    """`ingest.max_file_age_hours` counts from each source's own newest booked file: ingesting the events
    first must not make the other sources' older files count as ingested (they were skipped unread)."""
    home = tmp_path / "home"
    truth = write_landing(home / "landing")
    month_ago = time.time() - 30 * 86400
    for path in (home / "landing").rglob("*"):
        if path.is_file() and "events" not in path.relative_to(home / "landing").parts[0]:
            os.utime(path, (month_ago, month_ago))
    assert run("ingest", home, "--source", "events") == 0
    assert run("ingest", home) == 0
    for source in SOURCES:
        assert table(spark, home, "bronze", source).count() == truth.loaded(source), source
