"""The bad-input catalogue: every kind of bad input a source sends, planted by hand in one landing,
ingested, and each kind's outcome checked against its planted count; the figures go into
docs/reliability.md.

Two ingests, as a source delivers: the hand-written landing of `tests/ingest_fixtures.py` (its truth
names every bad record and why) plus file-level oddities (a line over the byte limit in a plain and a
gzip file, an empty file, CRLF line ends, no final newline, CSV headers lacking or repeating a field, a
byte-order mark, an odd extra column); then a re-sent copy under another name and a corrected re-export
under an old path. A wrong-source `--path` is refused before anything is booked.

The table this test renders is compared with the one docs/reliability.md holds: figures in the docs
are the suite's own. `LAKEPULSE_UPDATE_DOCS=1 make test ARGS=tests/test_reliability_catalogue.py`
rewrites them after a deliberate change.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections import Counter
from pathlib import Path

from pyspark.sql import functions as F

from lakepulse.config import PROJECT_ROOT
from tests.ingest_fixtures import (
    CUSTOMER_HEADER,
    DAYS,
    _access,
    _customer,
    _event,
    run,
    table,
    write_landing,
)

LIMIT = 4096  # ingest.max_line_bytes here: a "huge" line stays cheap to write
SET = ("--set", f"ingest.max_line_bytes={LIMIT}")
DOC = PROJECT_ROOT / "docs" / "reliability.md"
START, END = (
    "<!-- catalogue:start (written by tests/test_reliability_catalogue.py) -->",
    "<!-- catalogue:end -->",
)

# What each planted record-level reason is, in words (reasons: docs/silver.md, bronze/quarantine).
RECORD_KINDS = {
    "malformed_json": "a JSON line cut short / not JSON",
    "malformed_csv": "a CSV row with too few fields",
    "unparseable_log_line": "an access-log line of another format",
    "bad_encoding": "bytes that are not UTF-8 (a Latin-1 line)",
    "negative_price": "a negative price",
    "future_timestamp": "a timestamp a year in the future",
    "late_beyond_window": "an event older than the late window",
    "unknown_event_type": "an event type nobody declared",
    "unknown_plan": "a plan outside the reference list",
    "unknown_service": "a service outside the reference list",
    "unknown_level": "a log level outside the reference list",
    "unknown_condition": "a weather condition outside the reference list",
}


def _kind(reason: str) -> str:
    if reason.startswith("missing_field:"):
        return f"a required field missing ({reason.split(':', 1)[1]})"
    if reason.startswith("bad_type:"):
        return f"a value of the wrong type ({reason.split(':', 1)[1]})"
    return RECORD_KINDS[reason]


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _events(ids, long: set[int] = frozenset(), end: str = "\n", final: bool = True) -> bytes:
    lines = [
        json.dumps(
            _event(i, DAYS[1], "search", search_query="x" * 3 * LIMIT) if i in long else _event(i, DAYS[1])
        )
        for i in ids
    ]
    return (end.join(lines) + (end if final else "")).encode("utf-8")


def plant_files(landing: Path) -> dict[str, dict]:
    """File-level kinds: name -> source, path, expected outcome, good records it holds."""
    ev, cu, al = (landing / s / f"date={DAYS[1]}" for s in ("events", "customers", "access_logs"))
    good = [_customer(i, "basic", f"{DAYS[1]}T10:00:00Z") for i in range(40, 44)]
    files = {
        "a line over ingest.max_line_bytes (plain)": ("events", ev / "long.json", _events(range(900, 904), {901}), "line_too_long", 3),
        "a line over ingest.max_line_bytes (gzip)": ("events", ev / "long.json.gz", gzip.compress(_events(range(910, 914), {912}), mtime=0), "line_too_long", 3),
        "a file that is one long line, no newline": ("events", ev / "blob.json", _events([920], {920}, final=False), "line_too_long", 0),
        "an empty file": ("events", ev / "empty.json", b"", "skipped: no record, not booked (Spark lists no zero-byte file)", 0),
        "CRLF line ends": ("events", ev / "crlf.json", _events(range(930, 933), end="\r\n"), "loaded", 3),
        "no newline after the last line": ("events", ev / "tail.json", _events(range(940, 942), final=False), "loaded", 2),
        "a CSV header lacking a declared field": ("customers", cu / "lacking.csv", "\n".join([CUSTOMER_HEADER.replace(",email", ""), good[0]]).encode(), "bad_header", 0),
        "a CSV header naming a field twice": ("customers", cu / "twice.csv", "\n".join([CUSTOMER_HEADER + ",plan", good[1] + ",premium"]).encode(), "duplicate_header", 0),
        "a byte-order mark before a CSV header": ("customers", cu / "bom.csv", ("\ufeff" + "\n".join([CUSTOMER_HEADER, good[2]]) + "\n").encode(), "loaded", 1),
        "an extra column with a backtick in its name": ("customers", cu / "extra.csv", "\n".join([CUSTOMER_HEADER + ",note`s", good[3] + ",x"]).encode(), "loaded", 1),
        "a line over ingest.max_line_bytes (access log)": ("access_logs", al / "long.log", "\n".join([_access(700, DAYS[1]), _access(701, DAYS[1], path="/" + "a" * 2 * LIMIT), _access(702, DAYS[1])]).encode() + b"\n", "line_too_long", 2),
    }  # fmt: skip
    for _, path, data, _, _ in files.values():
        _write(path, data)
    return {k: {"source": s, "path": p, "outcome": o, "good": n} for k, (s, p, _, o, n) in files.items()}


def _cell(value) -> str:
    return str(value).replace("|", "\\|")


def render(records: list[tuple], files: list[tuple], later: list[tuple], totals: list[tuple]) -> str:
    out = [
        START,
        "",
        "**Bad records** (first ingest; planted = records of that kind in the landing):",
        "",
        "| source | kind | reason | planted | quarantined | check |",
        "|---|---|---|---|---|---|",
        *[f"| {' | '.join(_cell(v) for v in row)} |" for row in records],
        "",
        "**Bad files** (first ingest):",
        "",
        "| source | kind | expected outcome | good records in it | loaded from it | check |",
        "|---|---|---|---|---|---|",
        *[f"| {' | '.join(_cell(v) for v in row)} |" for row in files],
        "",
        "**Re-deliveries** (second ingest) and refusals:",
        "",
        "| source | kind | expected outcome | observed | check |",
        "|---|---|---|---|---|",
        *[f"| {' | '.join(_cell(v) for v in row)} |" for row in later],
        "",
        "**Per source** (both ingests, from `_ops/ingest_audit`): read = loaded + quarantined + duplicates",
        "",
        "| source | files read | records read | loaded | quarantined | duplicates | file rows in quarantine | reconciles |",
        "|---|---|---|---|---|---|---|---|",
        *[f"| {' | '.join(_cell(v) for v in row)} |" for row in totals],
        "",
        END,
    ]
    return "\n".join(out)


def test_every_kind_of_bad_input_has_its_outcome_and_the_counts_reconcile(spark, tmp_path):
    home = tmp_path / "home"
    landing = home / "landing"
    truth = write_landing(landing)
    planted = plant_files(landing)
    assert run("ingest", home, *SET) == 0

    quarantine = table(spark, home, "bronze", "quarantine")
    by_reason = Counter(
        (r["source"], r["reason"])
        for r in quarantine.where(F.col("raw").isNotNull() | (F.col("reason") == "bad_encoding")).collect()
    )
    file_rows = {
        r["source_file"].rsplit("/", 1)[-1]: r["reason"]
        for r in quarantine.where(F.col("raw").isNull()).collect()
    }
    records = []
    for source in sorted(truth.bad):
        for reason, n in sorted(truth.bad[source].items()):
            got = by_reason.get((source, reason), 0)
            records.append((source, _kind(reason), f"`{reason}`", n, got, "ok" if got == n else "MISMATCH"))
    for source, names in sorted(truth.corrupt_files.items()):
        for name in names:
            got = file_rows.get(name)
            records.append(
                (
                    source,
                    "a truncated gzip file",
                    "`corrupt_file`",
                    1,
                    int(got == "corrupt_file"),
                    "ok" if got == "corrupt_file" else "MISMATCH",
                )
            )
    for source, n in sorted(truth.duplicates.items()):
        records.append(
            (source, "a record sent twice (same key)", "dropped as duplicate", n, "-", "see per source")
        )

    ids = {
        "events": {r["event_id"] for r in table(spark, home, "bronze", "events").collect()},
        "customers": {r["raw"] for r in table(spark, home, "bronze", "customers").collect()},
        "access_logs": {r["raw"] for r in table(spark, home, "bronze", "access_logs").collect()},
    }
    files = []
    for kind, f in planted.items():
        raw = f["path"].read_bytes()
        text = (gzip.decompress(raw) if f["path"].suffix == ".gz" else raw).decode("utf-8").lstrip("\ufeff")
        lines = [line.rstrip("\r") for line in text.split("\n") if line and len(line.encode()) < LIMIT]
        if f["source"] == "events":
            loaded = sum(json.loads(line)["event_id"] in ids["events"] for line in lines)
        else:
            loaded = sum(
                line.split(",note")[0] in ids[f["source"]] or line in ids[f["source"]] for line in lines
            )
        row = file_rows.get(f["path"].name)
        whole_file = not f["outcome"].startswith(("loaded", "skipped"))
        outcome_ok = row == f["outcome"] if whole_file else row is None
        ok = outcome_ok and loaded == f["good"]
        files.append((f["source"], kind, f"`{f['outcome']}`", f["good"], loaded, "ok" if ok else "MISMATCH"))

    # Second delivery: a copy of an ingested file under another name, a corrected re-export in place.
    folder = landing / "access_logs" / f"date={DAYS[0]}"
    shutil.copy(folder / "part-00000.log", folder / "part-00000 (1).log")
    target = landing / "customers" / f"date={DAYS[1]}" / "part-00000.csv"
    target.write_text(target.read_text() + _customer(6, "premium", f"{DAYS[1]}T15:00:00Z") + "\n")
    before = {r["batch_id"] for r in table(spark, home, "_ops", "ingest_audit").collect()}
    assert run("ingest", home, *SET) == 0
    second = {
        r["source"]: r
        for r in table(spark, home, "_ops", "ingest_audit").collect()
        if r["batch_id"] not in before
    }
    copy, changed = second["access_logs"], second["customers"]
    later = [
        ("access_logs", "the same file re-sent under another name", "`duplicate_file`: booked, nothing read",
         f"duplicate files {copy['duplicate_files']}, records read {copy['records_read']}",
         "ok" if (copy["duplicate_files"], copy["records_read"]) == (1, 0) else "MISMATCH"),
        ("customers", "a corrected re-export under the same path", "`new_version`: read again, old records duplicates",
         f"new versions {changed['new_versions']}, loaded {changed['loaded']}, duplicates {changed['duplicates_dropped']}",
         "ok" if (changed["new_versions"], changed["loaded"]) == (1, 1) else "MISMATCH"),
    ]  # fmt: skip
    versions = {p.name: len(list(p.glob("_delta_log/*.json"))) for p in (home / "lake" / "bronze").iterdir()}
    refused = run("ingest", home, *SET, "--source", "customers", "--path", str(landing / "events"))
    unchanged = versions == {
        p.name: len(list(p.glob("_delta_log/*.json"))) for p in (home / "lake" / "bronze").iterdir()
    }
    later.append(("customers", "`--path` pointing at another source's folder", "refused before anything is booked",
                  f"exit {refused}, bronze unchanged: {unchanged}", "ok" if refused != 0 and unchanged else "MISMATCH"))  # fmt: skip

    audit = table(spark, home, "_ops", "ingest_audit")
    sums = {
        r["source"]: r
        for r in audit.groupBy("source")
        .agg(
            *[
                F.sum(c).alias(c)
                for c in ("files_read", "records_read", "loaded", "quarantined", "duplicates_dropped")
            ]
        )
        .collect()
    }
    file_counts = Counter(
        r["source"]
        for r in quarantine.where(F.col("raw").isNull() & (F.col("reason") != "bad_encoding")).collect()
    )
    totals = []
    for source in sorted(sums):
        a = sums[source]
        reconciles = a["records_read"] == a["loaded"] + a["quarantined"] + a["duplicates_dropped"]
        totals.append((source, a["files_read"], a["records_read"], a["loaded"], a["quarantined"], a["duplicates_dropped"], file_counts.get(source, 0), "yes" if reconciles else "NO"))  # fmt: skip

    table_text = render(records, files, later, totals)
    bad = [row for row in (*records, *files, *later) if row[-1] == "MISMATCH"] + [
        r for r in totals if r[-1] == "NO"
    ]
    assert not bad, bad
    assert len(records) + len(files) + len(later) >= 25
    # Every planted record is accounted for: loaded ones are the truth's, plus the files' good lines.
    for source in ("events", "customers", "access_logs"):
        extra = sum(f["good"] for f in planted.values() if f["source"] == source) + (source == "customers")
        assert sums[source]["loaded"] == truth.loaded(source) + extra, source

    doc = DOC.read_text(encoding="utf-8")
    assert START in doc and END in doc, f"{DOC} lacks the catalogue markers"
    current = doc[doc.index(START) : doc.index(END) + len(END)]
    if os.environ.get("LAKEPULSE_UPDATE_DOCS") == "1":
        DOC.write_text(doc.replace(current, table_text), encoding="utf-8")
    else:
        assert current == table_text, (
            f"{DOC} holds other figures than this run: LAKEPULSE_UPDATE_DOCS=1 rewrites them (then review the diff)"
        )
