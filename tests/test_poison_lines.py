"""Lines a source should not send, but does: longer than `ingest.max_line_bytes`, in plain, gzip and
bzip2 files, a file that is one long line with no newline, CRLF line ends, a short file without a final
newline. A line of several hundred MB once went whole into memory (or aborted the run); now it is
skipped while the file is read, its file gets a `line_too_long` quarantine row, every other line of the
file loads, and the run goes on.

The truth is planted by hand: which lines are long, which files hold them; the expected loads are the
short lines, counted here from the files' own bytes.
"""

from __future__ import annotations

import bz2
import gzip
import json

from pyspark.sql import functions as F

from tests.ingest_fixtures import _event, run, table

DAY = "2026-01-01"
LIMIT = 4096  # ingest.max_line_bytes for these tests: small, so that a "huge" line stays cheap to write


def _line(i: int, long: bool = False) -> str:
    extra = {"search_query": "x" * (LIMIT * 3)} if long else {}
    return json.dumps(_event(i, DAY, "search" if long else "page_view", **extra))


def test_long_lines_are_skipped_their_files_quarantined_and_every_other_line_loads(spark, tmp_path):
    folder = tmp_path / "landing" / "events" / f"date={DAY}"
    folder.mkdir(parents=True)
    files = {  # name -> (line numbers, which of them are long, line end, compress with, final newline)
        "plain.json": (range(0, 6), {2}, "\n", None, True),
        "crlf.json": (range(10, 14), {12}, "\r\n", None, True),
        "zipped.json.gz": (range(20, 26), {21, 24}, "\n", gzip.compress, True),
        "packed.json.bz2": (range(30, 35), {33}, "\n", bz2.compress, True),
        "one_line_no_newline.json": (range(40, 41), {40}, "\n", None, False),
        "short_no_newline.json": (range(50, 53), set(), "\n", None, False),
        "crlf_short.json": (range(60, 63), set(), "\r\n", None, True),
    }
    for name, (ids, long, end, compress, final) in files.items():
        text = end.join(_line(i, i in long) for i in ids) + (end if final else "")
        data = text.encode("utf-8")
        (folder / name).write_bytes(compress(data) if compress else data)

    assert run("ingest", tmp_path, "--source", "events", "--set", f"ingest.max_line_bytes={LIMIT}") == 0

    expected = {f"e-{i:012d}-fx" for _, (ids, long, *_) in files.items() for i in ids if i not in long}
    loaded = [r["event_id"] for r in table(spark, tmp_path, "bronze", "events").collect()]
    assert sorted(loaded) == sorted(expected)  # every short line, once; no long one
    raws = table(spark, tmp_path, "bronze", "events").select(F.max(F.length("raw"))).first()[0]
    assert raws < LIMIT and not any(
        "\r" in r["raw"] for r in table(spark, tmp_path, "bronze", "events").collect()
    )
    quarantine = table(spark, tmp_path, "bronze", "quarantine").where(F.col("source") == "events").collect()
    by_file = {r["source_file"].rsplit("/", 1)[-1]: (r["reason"], r["raw"]) for r in quarantine}
    with_long = {name for name, (_, long, *_) in files.items() if long}
    assert by_file == {name: ("line_too_long", None) for name in with_long}
    audit = table(spark, tmp_path, "_ops", "ingest_audit").where(F.col("source") == "events").first()
    assert audit["files_read"] == len(files)
    assert audit["loaded"] == len(expected)
    assert audit["records_read"] == audit["loaded"] + audit["quarantined"] + audit["duplicates_dropped"]


def test_a_csv_file_whose_lines_run_long_loads_its_short_rows(spark, tmp_path):
    """A CSV header is read like any line: a long row below it does not stop the file's other rows."""
    from tests.ingest_fixtures import CUSTOMER_HEADER, _customer

    path = tmp_path / "landing" / "customers" / f"date={DAY}" / "export.csv"
    path.parent.mkdir(parents=True)
    rows = [_customer(i, "basic", f"{DAY}T08:00:00Z") for i in range(1, 5)]
    rows[1] = rows[1].replace("basic", "b" * (LIMIT * 2))
    path.write_bytes(("\r\n".join([CUSTOMER_HEADER, *rows]) + "\r\n").encode("utf-8"))

    assert run("ingest", tmp_path, "--source", "customers", "--set", f"ingest.max_line_bytes={LIMIT}") == 0

    loaded = {r["customer_id"] for r in table(spark, tmp_path, "bronze", "customers").collect()}
    assert loaded == {"C00000001", "C00000003", "C00000004"}
    reasons = [r["reason"] for r in table(spark, tmp_path, "bronze", "quarantine").collect()]
    assert reasons == ["line_too_long"]
