"""maintain: compaction with Z-order and VACUUM shrink the file count, keep every row; the small-file guard."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable as RustDeltaTable

from lakepulse.runtime import delta_io
from lakepulse.runtime.spark_conf import spark_conf_for
from tests.conftest import load_job, make_config

GUARD_KEYS = ("autoCompact.enabled", "autoCompact.minNumFiles", "autoCompact.maxFileSize")


@contextlib.contextmanager
def guard(spark, config, enabled: bool = True):
    """Applies the config's small-file guard settings to the shared session for one test."""
    keys = {k: v for k, v in spark_conf_for(config).items() if k.endswith(GUARD_KEYS)}
    if not enabled:
        keys["spark.databricks.delta.autoCompact.enabled"] = "false"
    previous = {k: spark.conf.get(k, None) for k in keys}
    for key, value in keys.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def small_appends(spark, path: str, batches: int, start: int = 0) -> None:
    for i in range(start, start + batches):
        rows = [(f"k{(i * 7 + j) % 11}", "2026-01-01", i * 10 + j) for j in range(3)]
        delta_io.append(
            spark.createDataFrame(rows, "customer_key STRING, event_date STRING, n INT"), path, ["event_date"]
        )


def test_small_file_guard_compacts_after_write(spark, tmp_path):
    config = make_config(tmp_path / "home", "maintenance.small_file_threshold=5")
    path = config.table_path("silver", "events")
    counts = []
    with guard(spark, config):
        for i in range(8):
            small_appends(spark, path, 1, start=i)
            counts.append(len(RustDeltaTable(path).file_uris()))
    # Eight writes of small files, yet the partition never piles up: the guard compacts after writes.
    assert max(counts) < 5, counts
    operations = [h["operation"] for h in RustDeltaTable(path).history()]
    assert operations.count("WRITE") == 8 and "OPTIMIZE" in operations
    expected = sorted(i * 10 + j for i in range(8) for j in range(3))
    assert sorted(RustDeltaTable(path).to_pandas()["n"]) == expected  # compaction kept every row


def test_maintain_compacts_zorders_vacuums_and_reports(spark, tmp_path, capsys):
    home = tmp_path / "home"
    config = make_config(home)
    path = config.table_path("silver", "events")
    with guard(spark, config, enabled=False):
        small_appends(spark, path, 8)
    before_rows = RustDeltaTable(path).to_pandas().sort_values("n").reset_index(drop=True)
    files_written = len(RustDeltaTable(path).file_uris())
    assert files_written >= 8  # without the guard, small files pile up

    assert load_job("maintain").main([f"--set=paths.home={home}", "--retain-hours", "0"]) == 0

    table = RustDeltaTable(path)
    assert len(table.file_uris()) == 1
    after_rows = table.to_pandas().sort_values("n").reset_index(drop=True)
    assert after_rows.equals(before_rows)
    optimize = [h for h in table.history() if h["operation"] == "OPTIMIZE"]
    assert optimize and "customer_key" in str(optimize[0]["operationParameters"])
    # VACUUM removed the replaced files from storage.
    parquet_on_disk = [
        p for p in (home / "lake/silver/events").rglob("*.parquet") if "_delta_log" not in p.parts
    ]
    assert len(parquet_on_disk) == 1
    report = capsys.readouterr().out
    line = next(line for line in report.splitlines() if line.startswith("silver/events"))
    files_before, _, files_after, _ = (int(x) for x in line.split()[1:5])
    assert (files_before, files_after) == (files_written, 1)
    log = RustDeltaTable(config.table_path("_ops", "maintenance_log")).to_pandas()
    assert log.set_index("table").loc["silver/events", "files_after"] == 1


def test_zorder_on_a_column_beyond_the_first_32_collects_its_statistics(spark, tmp_path, capsys):
    """FOCUS billing is wider than the 32 columns Delta keeps statistics for by default; Z-ordering on
    its ServiceName (the 40th column here) must still run, on the table's files, keeping every row."""
    home = tmp_path / "home"
    path = make_config(home).table_path("silver", "billing")
    names = [f"c{i:02d}" for i in range(39)] + ["ServiceName"]
    schema = ", ".join(f"{n} STRING" for n in names)
    with guard(spark, make_config(home), enabled=False):
        for batch in range(3):
            rows = [tuple(f"{n}-{batch}-{j}" for n in names[:-1]) + (f"svc{j % 4}",) for j in range(20)]
            delta_io.append(spark.createDataFrame(rows, schema), path)
    before = RustDeltaTable(path).to_pandas().sort_values("c00").reset_index(drop=True)

    assert load_job("maintain").main([f"--set=paths.home={home}", "--retain-hours", "0"]) == 0

    table = RustDeltaTable(path)
    assert table.to_pandas().sort_values("c00").reset_index(drop=True).equals(before)
    optimize = [h for h in table.history() if h["operation"] == "OPTIMIZE"]
    assert optimize and "ServiceName" in str(optimize[0]["operationParameters"])
    # The rewritten file carries min/max statistics for ServiceName (read from the log by delta-rs).
    actions = pa.table(table.get_add_actions(flatten=True)).to_pandas()
    assert actions["min.ServiceName"].notna().all() and (actions["min.ServiceName"] == "svc0").all()
    assert "silver/billing" in capsys.readouterr().out


def test_zorder_rewrites_only_partitions_with_several_files(spark, tmp_path):
    """One day holds three files, another one: only the first is clustered; the lone file stays as it
    was (rewriting it would skip nothing more), and every row is kept."""
    home = tmp_path / "home"
    path = make_config(home).table_path("silver", "events")
    schema = "customer_key STRING, event_type STRING, event_date STRING, n INT"
    with guard(spark, make_config(home), enabled=False):
        for i in range(3):
            rows = [(f"k{(i * 5 + j) % 7}", "view", "2026-01-01", i * 10 + j) for j in range(4)]
            delta_io.append(spark.createDataFrame(rows, schema).coalesce(1), path, ["event_date"])
        rows = [(f"k{j}", "view", "2026-01-02", 100 + j) for j in range(4)]
        delta_io.append(spark.createDataFrame(rows, schema).coalesce(1), path, ["event_date"])
    before = RustDeltaTable(path)
    lone = [u for u in before.file_uris() if "event_date=2026-01-02" in u]
    rows_before = sorted(before.to_pandas()["n"])
    assert len(lone) == 1 and len(before.file_uris()) == 4

    assert load_job("maintain").main([f"--set=paths.home={home}", "--retain-hours", "0"]) == 0

    after = RustDeltaTable(path)
    assert sorted(after.to_pandas()["n"]) == rows_before
    assert [u for u in after.file_uris() if "event_date=2026-01-02" in u] == lone
    assert len([u for u in after.file_uris() if "event_date=2026-01-01" in u]) == 1
    optimize = [h for h in after.history() if h["operation"] == "OPTIMIZE"]
    assert "2026-01-01" in str(optimize[0]["operationParameters"]) and "customer_key" in str(optimize[0])


def test_vacuum_keeps_removed_files_for_exactly_the_configured_retention(spark, tmp_path):
    """Files no table version references, aged 1 hour, 2 days and 10 days: a 30-day retention keeps all
    three and a 1-day retention deletes the two older ones. (Delta 4 ignores VACUUM's own retention
    argument unless it is 0 and keeps its one-week default instead, which would delete the 10-day
    file in the first run and keep the 2-day one in the second.)"""
    home = tmp_path / "home"
    path = make_config(home).table_path("silver", "weather")
    with guard(spark, make_config(home), enabled=False):
        delta_io.append(spark.createDataFrame([("Paris", 1.5)], "city STRING, temp DOUBLE"), path)
    now = time.time()
    ages = {"part-orphan-1h.parquet": 1, "part-orphan-2d.parquet": 48, "part-orphan-10d.parquet": 240}
    for name, hours in ages.items():
        orphan = Path(path) / name
        orphan.write_bytes(b"not referenced by any version")
        os.utime(orphan, (now - hours * 3600, now - hours * 3600))

    def left() -> set[str]:
        return {name for name in ages if (Path(path) / name).exists()}

    assert load_job("maintain").main([f"--set=paths.home={home}", "--retain-hours", "720"]) == 0
    assert left() == set(ages)
    assert load_job("maintain").main([f"--set=paths.home={home}", "--retain-hours", "24"]) == 0
    assert left() == {"part-orphan-1h.parquet"}
    assert RustDeltaTable(path).metadata().configuration["delta.deletedFileRetentionDuration"] == (
        "interval 24 hours"
    )
    assert RustDeltaTable(path).to_pandas()["city"].tolist() == ["Paris"]  # the live file stays
