"""A landing file is known by its path relative to its source's folder, its size and its content
(docs/landing.md, "File identity"), never by where the home lives.

Every expectation is planted: the fixture's truth (tests/ingest_fixtures.py) and lines written here,
counted as they are written.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections import Counter

import pytest
from pyspark.sql import functions as F

from tests.ingest_fixtures import (
    CUSTOMER_HEADER,
    DAYS,
    Truth,
    _access,
    _customer,
    run,
    table,
    versions,
    write_access_logs,
    write_landing,
)

SOURCES = ("events", "access_logs", "app_logs", "billing", "customers", "prices", "weather")


def _counts(spark, home) -> dict[str, int]:
    return {s: table(spark, home, "bronze", s).count() for s in SOURCES}


def _audit(spark, home, batches: set[str] | None = None) -> list:
    rows = table(spark, home, "_ops", "ingest_audit").collect()
    return [r for r in rows if batches is None or r.batch_id in batches]


def _batches(spark, home) -> set[str]:
    return {r.batch_id for r in table(spark, home, "_ops", "ingest_audit").select("batch_id").collect()}


def _reconciles(rows) -> None:
    for r in rows:
        assert r.records_read == r.loaded + r.quarantined + r.duplicates_dropped, r


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """The hand-written landing, ingested once: copied by each test that changes it."""
    home = tmp_path_factory.mktemp("identity") / "home"
    truth = write_landing(home / "landing")
    assert run("ingest", home) == 0
    return home, truth


@pytest.mark.parametrize("keep_times", [True, False], ids=["times-kept", "times-not-kept"])
def test_a_home_copied_elsewhere_ingests_nothing_again(spark, ingested, tmp_path, keep_times):
    """LAKEPULSE_HOME copied elsewhere (with `cp -a`, or a plain copy that gives every file a new time)."""
    home, truth = ingested
    moved = tmp_path / "moved"
    shutil.copytree(home, moved, copy_function=shutil.copy2 if keep_times else shutil.copy)
    before, batches = versions(moved), _batches(spark, moved)
    assert run("ingest", moved) == 0
    assert _counts(spark, moved) == {s: truth.loaded(s) for s in SOURCES}
    new = _audit(spark, moved, _batches(spark, moved) - batches)
    assert sum(r.records_read for r in new) == 0 and sum(r.loaded for r in new) == 0
    if keep_times:
        assert versions(moved) == before  # every file known by its relative path, size and time
    else:  # booked again as unchanged (nothing read), so that the next run knows them by their time
        outcomes = Counter(r.outcome for r in table(spark, moved, "_ops", "_ingested_files").collect())
        assert outcomes["unchanged"] == sum(truth.files.values())
        after = versions(moved)
        assert run("ingest", moved) == 0
        assert versions(moved) == after


def test_a_copy_under_another_name_is_a_duplicate_file_and_loads_nothing(spark, ingested, tmp_path):
    """A copy of an ingested file, and a new file landing twice: one read, the copies booked unread."""
    home, truth = ingested
    lake = tmp_path / "copy"
    shutil.copytree(home, lake)
    folder = lake / "landing" / "access_logs" / f"date={DAYS[0]}"
    shutil.copy(folder / "part-00000.log", folder / "part-00000 (1).log")
    fresh = [_access(i, DAYS[0]) for i in range(600, 611)]  # 11 new good lines
    (folder / "part-00001.log").write_text("\n".join(fresh) + "\n")
    shutil.copy(folder / "part-00001.log", folder / "part-00001-resent.log")
    later = (folder / "part-00001.log").stat().st_mtime + 1
    os.utime(folder / "part-00001-resent.log", (later, later))  # re-sent after: the first one is read
    # Same size as part-00001.log, other content (another referer host): not a duplicate.
    twin_size = [line.replace("https://shop.example/", "https://shop.exampl2/", 1) for line in fresh]
    (folder / "part-00002.log").write_text("\n".join(twin_size) + "\n")
    assert (folder / "part-00002.log").stat().st_size == (folder / "part-00001.log").stat().st_size
    batches = _batches(spark, lake)
    assert run("ingest", lake) == 0
    loaded = truth.loaded("access_logs") + 2 * len(fresh)
    assert table(spark, lake, "bronze", "access_logs").count() == loaded
    new = _audit(spark, lake, _batches(spark, lake) - batches)
    _reconciles(new)
    assert [(r.source, r.files_read, r.records_read, r.loaded, r.duplicate_files) for r in new] == [
        ("access_logs", 2, 2 * len(fresh), 2 * len(fresh), 2)
    ]
    booked = table(spark, lake, "_ops", "_ingested_files").where(F.col("outcome") == "duplicate_file")
    assert sorted((r.rel_path, r.same_as) for r in booked.collect()) == [
        (f"date={DAYS[0]}/part-00000 (1).log", f"date={DAYS[0]}/part-00000.log"),
        (f"date={DAYS[0]}/part-00001-resent.log", f"date={DAYS[0]}/part-00001.log"),
    ]


def test_a_file_changed_in_place_is_read_again_as_a_new_version(spark, ingested, tmp_path):
    """A corrected re-export under the same path: read whole, its records deduplicated against bronze."""
    home, truth = ingested
    lake = tmp_path / "changed"
    shutil.copytree(home, lake)
    target = lake / "landing" / "customers" / f"date={DAYS[1]}" / "part-00000.csv"
    old = target.read_text().splitlines()[1:]  # the records already read: 2 loaded, 1 duplicate
    added = _customer(5, "premium", f"{DAYS[1]}T15:00:00Z")  # the correction: one more plan change
    target.write_text("\n".join([CUSTOMER_HEADER, *old, added]) + "\n")
    batches = _batches(spark, lake)
    assert run("ingest", lake) == 0
    assert table(spark, lake, "bronze", "customers").count() == truth.loaded("customers") + 1
    new = _audit(spark, lake, _batches(spark, lake) - batches)
    _reconciles(new)
    assert [(r.source, r.new_versions, r.records_read, r.loaded, r.duplicates_dropped) for r in new] == [
        ("customers", 1, len(old) + 1, 1, len(old))
    ]
    outcome = table(spark, lake, "_ops", "_ingested_files").where(F.col("outcome") == "new_version")
    assert [r.rel_path for r in outcome.collect()] == [f"date={DAYS[1]}/part-00000.csv"]


def test_a_file_still_being_written_is_left_for_the_next_run_then_read_whole(spark, tmp_path):
    home = tmp_path / "home"
    truth = Truth()
    write_access_logs(home / "landing", truth)
    growing = home / "landing" / "access_logs" / f"date={DAYS[0]}" / "part-00001.log"
    written: list[str] = []
    stop = threading.Event()

    def writer() -> None:  # an exporter appending one line at a time
        with growing.open("a") as out:
            while not stop.is_set():
                written.append(_access(700 + len(written), DAYS[0]))
                out.write(written[-1] + "\n")
                out.flush()
                time.sleep(0.1)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while not written:
            time.sleep(0.05)
        assert run("ingest", home, "--source", "access_logs", "--set", "ingest.settle_seconds=2") == 0
    finally:
        stop.set()
        thread.join()
    assert table(spark, home, "bronze", "access_logs").count() == truth.loaded("access_logs")
    booked = [r.path for r in table(spark, home, "_ops", "_ingested_files").collect()]
    assert not [p for p in booked if p.endswith(growing.name)]
    past = time.time() - 60
    os.utime(growing, (past, past))
    assert run("ingest", home, "--source", "access_logs") == 0
    assert table(spark, home, "bronze", "access_logs").count() == truth.loaded("access_logs") + len(written)
    rows = table(spark, home, "_ops", "_ingested_files").collect()
    assert [r.size for r in rows if r.path.endswith(growing.name)] == [growing.stat().st_size]


def test_bookings_from_before_identities_are_migrated_and_a_moved_home_reloads_nothing(spark, tmp_path):
    """A lake whose bookings hold absolute paths only (and an audit without the file counts), moved."""
    home = tmp_path / "home"
    truth = Truth()
    write_access_logs(home / "landing", truth)
    assert run("ingest", home, "--source", "access_logs") == 0
    for name, keep in (("_ingested_files", 8), ("ingest_audit", 12)):
        path = str(home / "lake" / "_ops" / name)
        old = spark.read.format("delta").load(path)
        frame = spark.createDataFrame(
            old.select(*old.columns[:keep]).collect(), old.select(*old.columns[:keep]).schema
        )
        frame.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path)
    moved = tmp_path / "moved"
    shutil.copytree(home, moved, copy_function=shutil.copy)
    assert run("ingest", moved, "--source", "access_logs") == 0
    assert table(spark, moved, "bronze", "access_logs").count() == truth.loaded("access_logs")
    booked = table(spark, moved, "_ops", "_ingested_files").collect()
    assert sorted((r.rel_path, str(r.outcome)) for r in booked) == [
        (f"date={DAYS[0]}/part-00000.log", "None"),
        (f"date={DAYS[0]}/part-00000.log", "unchanged"),
    ]
    assert (
        sum(r.records_read for r in table(spark, moved, "_ops", "ingest_audit").collect())
        == truth.records["access_logs"]
    )


def test_outcomes_against_bookings_and_earlier_files_of_the_run():
    """The decision alone, on planted bookings (no Spark): each outcome from the table in docs/landing.md."""
    from lakepulse.bronze.files import LandingFile
    from lakepulse.bronze.identity import _outcomes

    t = "2026-01-02 00:00:00.000000"

    def booking(rel, size, fp, path=None):
        return {"source": "events", "path": path or f"file:/old/events/{rel}", "size": size, "rel_path": rel,
                "fingerprint": fp, "modified_at": t}  # fmt: skip

    bookings = [
        booking("date=1/a.json", 10, "A"),
        booking(None, 30, None, path="file:/old/home/landing/events/date=1/legacy.json"),
    ]
    files = [
        ("events", LandingFile("file:/new/events/date=1/a.json", 10, t, "date=1/a.json", "A")),  # moved
        ("events", LandingFile("file:/new/events/date=1/a2.json", 10, t, "date=1/a2.json", "A")),  # copy
        ("events", LandingFile("file:/new/events/date=1/a.json", 12, t, "date=1/a.json", "A'")),  # changed
        ("events", LandingFile("file:/new/events/date=1/legacy.json", 30, t, "date=1/legacy.json", "L")),
        ("events", LandingFile("file:/new/events/date=2/b.json", 5, t, "date=2/b.json", "B")),  # new
        ("events", LandingFile("file:/new/events/date=2/b-again.json", 5, t, "date=2/b-again.json", "B")),
        ("events", LandingFile("file:/new/events/date=2/empty.json", 0, t, "date=2/empty.json", "E")),
        ("events", LandingFile("file:/new/events/date=3/empty.json", 0, t, "date=3/empty.json", "E")),
    ]
    got = [(f.rel_path, f.outcome, f.same_as) for _, f in _outcomes(files, bookings)]
    assert got == [
        ("date=1/a.json", "unchanged", None),
        ("date=1/a2.json", "duplicate_file", "date=1/a.json"),
        ("date=1/a.json", "new_version", None),
        ("date=1/legacy.json", "unchanged", None),  # an old booking: by relative path and size
        ("date=2/b.json", "new", None),
        ("date=2/b-again.json", "duplicate_file", "date=2/b.json"),
        ("date=2/empty.json", "new", None),
        ("date=3/empty.json", "new", None),
    ]


def test_the_lookup_of_a_long_backfill_finds_its_bookings(spark):
    """One range per day folder: a rerun listing years of day folders once made a filter nested so deep
    that Spark's analysis overflowed the JVM's stack (found on the pipeline's second run, 120 days x 7
    sources); the bookings found are exactly those of the listed folders' ranges or as recent."""
    from lakepulse.bronze import files as landing
    from lakepulse.bronze import identity

    folders = [f"date=2020-01-01+{day:04d}" for day in range(3000)]
    rows = [
        ("events", f"/l/events/{d}/a.json", 1, "2026-01-01 00:00:00", f"{d}/a.json", "x") for d in folders
    ]
    rows.append(("events", "/l/events/other/z.json", 1, "2026-01-01 00:00:00", "other/z.json", "x"))
    bookings = spark.createDataFrame(
        rows, "source string, path string, size long, modified_at string, rel_path string, fingerprint string"
    ).withColumn("modified_at", F.col("modified_at").cast("timestamp"))
    listed = [
        (
            "events",
            landing.LandingFile(f"/m/events/{d}/a.json", 1, "2026-06-01 00:00:00.000000", f"{d}/a.json"),
        )
        for d in folders
    ]
    found = identity.booked(bookings, listed)
    assert sorted(r["rel_path"] for r in found) == sorted(f"{d}/a.json" for d in folders)
