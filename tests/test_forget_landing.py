"""Right to erasure in the landing area: `forget` rewrites the files holding the customer without their
lines, leaves every other line and file as it was, and the next ingest reads nothing again.

The hand-written landing (tests/ingest_fixtures.py: a plain file with a byte-order mark and a Latin-1
line, a gzipped file, a truncated gzip file, CSVs) is ingested, a late events file holding the customer
lands after that ingest, and forget is interrupted once between its booking and the first file's move
(a crash), then run again. Expected lines are computed here from the files as written, by a regular
expression of this test's own.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from deltalake import DeltaTable as RustDeltaTable

from lakepulse.bronze import landing_erasure
from tests.ingest_fixtures import DAYS, _event, run, write_landing

KEY = "test-landing-erasure-key"
TARGET = "C00000003"
# The id as a whole token: C00000003 inside C000000031 or xC00000003 is another id.
TOKEN = re.compile(rb"(?<![A-Za-z0-9_-])" + TARGET.encode() + rb"(?![A-Za-z0-9_-])")
LATE = f"events/date={DAYS[1]}/part-00009.json"


def landing_files(home: Path) -> dict[str, Path]:
    root = home / "landing"
    return {
        str(p.relative_to(root)): p
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith((".", "_"))
    }


def text_of(rel: str, data: bytes) -> bytes | None:
    """A landing file's lines as readers see them; None for a gzip file truncated (no record of it loads)."""
    if not rel.endswith(".gz"):
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError):
        return None


def bronze_count(home: Path, table: str) -> int:
    return len(RustDeltaTable(str(home / "lake" / "bronze" / table)).to_pyarrow_table(columns=["batch_id"]))


@pytest.fixture(scope="module")
def erased(tmp_path_factory):
    home = tmp_path_factory.mktemp("forget-landing") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAKEPULSE_PSEUDONYM_KEY", KEY)
        write_landing(home / "landing")
        assert run("ingest", home) == 0
        late = [
            _event(i, DAYS[1], "purchase") for i in range(1004, 1004 + 7 * 4)
        ]  # C0000000(i % 7), 1004 % 7 == 3
        (home / "landing" / LATE).write_text("".join(json.dumps(e) + "\n" for e in late))
        before = {rel: (p.read_bytes(), p.stat().st_mtime_ns) for rel, p in landing_files(home).items()}
        counts = {t: bronze_count(home, t) for t in ("events", "customers", "access_logs", "quarantine")}

        moves = []

        def crash_on_first_move(path, temp):
            moves.append(path)
            if len(moves) == 1:
                raise RuntimeError("killed between the booking and the move")
            original_move(path, temp)

        original_move = landing_erasure._move
        patch.setattr(landing_erasure, "_move", crash_on_first_move)
        with pytest.raises(RuntimeError, match="killed"):
            run("forget", home, "--customer", TARGET)
        patch.setattr(landing_erasure, "_move", original_move)
        assert run("forget", home, "--customer", TARGET) == 0
        after_forget = {rel: (p.read_bytes(), p.stat().st_mtime_ns) for rel, p in landing_files(home).items()}
        after_counts = {t: bronze_count(home, t) for t in counts}
        assert run("ingest", home) == 0
    return home, before, after_forget, counts, after_counts


def test_the_customer_lines_are_gone_and_every_other_line_kept(erased):
    home, before, after, _, _ = erased
    assert sorted(after) == sorted(before)  # no file added or removed
    held = 0
    for rel, (data, _) in before.items():
        old = text_of(rel, data)
        if old is None:  # the truncated file (ingest quarantined it whole) holds no customer id
            assert after[rel] == before[rel]
            continue
        expected = [line for line in old.splitlines(keepends=True) if not TOKEN.search(line)]
        assert text_of(rel, after[rel][0]).splitlines(keepends=True) == expected, rel
        if expected == old.splitlines(keepends=True):
            assert after[rel] == before[rel], f"{rel} does not hold the customer and was touched"
        else:
            held += 1
    assert held >= 4  # both events days, the late file and the customers CSV held the customer
    hidden = [p for p in (home / "landing").rglob(".*") if p.is_file()]
    assert hidden == [], "a rewrite's temporary file was left behind"


def test_the_rewrite_is_booked_so_ingest_reads_nothing_again(erased):
    home, before, _, counts, after_counts = erased
    late_lines = [line for line in before[LATE][0].splitlines() if line]
    others = [line for line in late_lines if not TOKEN.search(line)]
    # After forget: the customer's rows are gone from bronze; nothing was ingested by forget itself.
    assert after_counts["customers"] < counts["customers"] and after_counts["events"] < counts["events"]
    # The next ingest read the late file only (never ingested before, so rewritten unbooked), and no
    # rewritten file again: bronze/events grew by the late file's other lines, the rest did not grow.
    assert bronze_count(home, "events") == after_counts["events"] + len(others)
    for table in ("customers", "access_logs", "quarantine"):
        assert bronze_count(home, table) == after_counts[table], table
    # The audit of the last ingest run: one file, the late one, read; no rewritten file came back as a
    # new version (a keyed source would have dropped its records as duplicates, unseen in the counts).
    audit = RustDeltaTable(str(home / "lake" / "_ops" / "ingest_audit")).to_pandas()
    last = audit[audit["run_id"] == audit.sort_values("finished_at")["run_id"].iloc[-1]]
    assert int(last["files_read"].sum()) == 1 and int(last["records_read"].sum()) == len(others)
    assert int(last["new_versions"].fillna(0).sum()) == 0
    events = RustDeltaTable(str(home / "lake" / "bronze" / "events")).to_pyarrow_table(columns=["raw"])
    assert not any(TOKEN.search(raw.encode()) for raw in events.column("raw").to_pylist())


def test_bookings_and_the_request_record_what_was_rewritten(erased):
    home, before, _, _, _ = erased
    files = RustDeltaTable(str(home / "lake" / "_ops" / "_ingested_files")).to_pandas()
    rewrites = files[files["outcome"] == landing_erasure.OUTCOME]
    held = {rel for rel, (data, _) in before.items() if TOKEN.search(text_of(rel, data) or b"")}
    booked = {f"{s}/{r}" for s, r in zip(rewrites["source"], rewrites["rel_path"], strict=True)}
    assert booked == held - {LATE}  # the late file was never ingested: rewritten, not booked
    assert set(rewrites["txn_version"]) == {landing_erasure.NO_BATCH}
    request = RustDeltaTable(str(home / "lake" / "_ops" / "erasure_requests")).to_pandas()
    assert len(request) == 1  # the interrupted run recorded nothing
    removed = sum(
        1 for rel in held for line in text_of(rel, before[rel][0]).splitlines() if TOKEN.search(line)
    )
    assert request.iloc[0]["landing_files"] == len(held)
    assert request.iloc[0]["landing_lines"] == removed


def test_an_unsupported_codec_is_named_in_one_line(tmp_path):
    path = tmp_path / "part-0.json.snappy"
    path.write_bytes(b"not really snappy")
    with pytest.raises(landing_erasure.Unrewritable, match=r"part-0\.json\.snappy .*compression"):
        landing_erasure.rewrite_without(str(path), landing_erasure.token_pattern(TARGET))


@pytest.mark.parametrize("suffix", [".gz", ".bz2"])
def test_a_truncated_file_stays_truncated_without_the_customer(spark, tmp_path, suffix):
    """Ingest quarantined it whole (no record loaded): rewritten, it is still a corrupt file to readers,
    now without the customer's readable lines."""
    import bz2

    compress = (lambda b: gzip.compress(b, mtime=0)) if suffix == ".gz" else bz2.compress
    decompress = gzip.open if suffix == ".gz" else bz2.open
    lines = [json.dumps({"n": i, "customer_id": f"C0000000{i % 4}"}).encode() + b"\n" for i in range(60_000)]
    data = compress(b"".join(lines))
    path = tmp_path / f"part-0.json{suffix}"
    path.write_bytes(data[: len(data) * 2 // 3])

    def readable(p: Path) -> list[bytes]:
        out = []
        with decompress(p, "rb") as f:
            try:
                out.extend(f)
            except EOFError:
                return out
        raise AssertionError(f"{p} reads to its end")

    before = readable(path)
    temp, removed = landing_erasure.rewrite_without(str(path), landing_erasure.token_pattern(TARGET))
    after = readable(Path(temp))
    complete = [line for line in before if line.endswith(b"\n")]  # a cut last line may be left out
    assert removed == sum(1 for line in complete if TOKEN.search(line))
    assert [line for line in after if line.endswith(b"\n")] == [
        line for line in complete if not TOKEN.search(line)
    ]
    renamed = tmp_path / "rewritten" / path.name
    renamed.parent.mkdir()
    Path(temp).rename(renamed)
    with pytest.raises(Exception, match=r"(?i)eof|truncat|unexpected end|corrupt|FAILED_READ_FILE"):
        spark.read.text(str(renamed)).count()  # Spark still finds it corrupt
