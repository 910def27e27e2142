"""CSV headers a source should not send, but does: each file is loaded or quarantined, the run goes on.

A header's names once reached Spark's DDL as they were, so a backtick, a repeated name or a column
called `_corrupt` aborted every ingest of the source; a header naming a declared field twice left it
to chance which column was read. The planted truth below is written by hand: which file loads which
customers, which file is quarantined whole and why.
"""

from __future__ import annotations

from pyspark.sql import functions as F

from tests.ingest_fixtures import CUSTOMER_HEADER, _customer, _write, run, table

DAY = "2026-01-01"
UPDATED = f"{DAY}T08:00:00Z"


def _file(landing, name: str, header: str, rows: list[str]) -> None:
    _write(landing / "customers" / f"date={DAY}" / name, "\n".join([header, *rows]) + "\n")


def test_odd_headers_load_or_quarantine_their_file_and_the_run_goes_on(spark, tmp_path):
    landing = tmp_path / "landing"
    rows = {i: _customer(i, "basic", UPDATED) for i in range(1, 13)}
    loads = {  # file -> (header, customers it holds); each header is odd but unambiguous
        "backtick.csv": (CUSTOMER_HEADER + ",note`s", [1, 2]),
        "repeated_extra.csv": (CUSTOMER_HEADER + ",extra,extra", [3, 4]),
        "corrupt_named.csv": (CUSTOMER_HEADER + ",_corrupt", [5]),
        "quoted_names.csv": ('"' + CUSTOMER_HEADER.replace(",", '","') + '"', [6]),
    }
    for name, (header, ids) in loads.items():
        extra = header.count(",") - CUSTOMER_HEADER.count(",")
        _file(landing, name, header, [rows[i] + ",x" * extra for i in ids])
    refused = {  # file -> (header, customers, the reason the whole file is quarantined)
        "twice.csv": (CUSTOMER_HEADER + ",plan", [7, 8], "duplicate_header"),
        "lacking.csv": (CUSTOMER_HEADER.replace(",email", ""), [9], "bad_header"),
        "empty_header.csv": ("", [10], "bad_header"),
    }
    for name, (header, ids, _) in refused.items():
        _file(landing, name, header, [rows[i] + (",premium" if name == "twice.csv" else "") for i in ids])

    assert run("ingest", tmp_path, "--source", "customers") == 0

    loaded = {r["customer_id"] for r in table(spark, tmp_path, "bronze", "customers").collect()}
    assert loaded == {f"C{i:08d}" for _, ids in loads.values() for i in ids}
    by_file = {
        r["source_file"].rsplit("/", 1)[-1]: (r["reason"], r["raw"])
        for r in table(spark, tmp_path, "bronze", "quarantine")
        .where(F.col("source") == "customers")
        .collect()
    }
    assert by_file == {name: (reason, None) for name, (_, _, reason) in refused.items()}
    audit = table(spark, tmp_path, "_ops", "ingest_audit").where(F.col("source") == "customers").first()
    assert audit["files_read"] == len(loads) + len(refused)
    assert audit["loaded"] == len(loaded)
    assert audit["records_read"] == audit["loaded"] + audit["quarantined"] + audit["duplicates_dropped"]
