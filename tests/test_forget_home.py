"""Right to erasure, checked the way an auditor would: after `forget --vacuum --retain-hours 0` on a copy
of the pipeline's home, no file under it holds the customer's id, e-mail or keyed hash.

Every file is searched: Parquet data files and Delta checkpoints decoded (their strings are compressed),
gzip landing files decompressed, everything else (Delta log JSON, CSV, the MLflow store's SQLite file and
artifacts, reports) as bytes. The search first proves it sees the customer in every layer before the
erasure, so an empty result after it means something.

Two places are left out, each for a stated reason:
- `_ops/erasure_requests` keeps the keyed hash by design: it is the record of the request, and ingest
  checks re-deliveries against it (docs/silver.md);
- `landing/_truth/` is `generate`'s planted truth about its synthetic customers (the answer key of tests
  and the bench), written by no source and absent from a real landing area.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import hmac
import io
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import PIPELINE_SAMPLE, TEST_PSEUDONYM_KEY, job_argv, load_job

ALLOWED = ("lake/_ops/erasure_requests/", "landing/_truth/")


def readable(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            return gzip.decompress(data)
        except (EOFError, OSError):  # a truncated file the sample plants: its bytes as they are
            return data
    if path.suffix == ".parquet":
        return json.dumps(pq.read_table(path).to_pylist(), default=str).encode()
    return data


def files_holding(home: Path, needles: dict[str, str]) -> dict[str, set[str]]:
    """For each needle's name, the files (relative to the home) whose content holds it."""
    found: dict[str, set[str]] = {name: set() for name in needles}
    for path in sorted(home.rglob("*")):
        if not path.is_file():
            continue
        data = readable(path)
        for name, needle in needles.items():
            if needle.encode() in data:
                found[name].add(str(path.relative_to(home)))
    return found


def first_customer(home: Path) -> tuple[str, str]:
    first = sorted((home / "landing" / "customers").rglob("*.csv"))[0]
    row = next(csv.DictReader(io.StringIO(first.read_text(encoding="utf-8"))))
    return row["customer_id"], row["email"]


@pytest.fixture(scope="module")
def searched(pipeline_lake, tmp_path_factory):
    home = tmp_path_factory.mktemp("forget-home") / "home"
    shutil.copytree(pipeline_lake.config.paths.home, home, symlinks=True)
    customer_id, email = first_customer(home)
    key = hmac.new(TEST_PSEUDONYM_KEY.encode(), customer_id.encode(), hashlib.sha256).hexdigest()
    needles = {"id": customer_id, "email": email, "key": key}
    before = files_holding(home, needles)
    argv = job_argv(home, *PIPELINE_SAMPLE)
    assert load_job("forget").main([*argv, "--customer", customer_id, "--vacuum", "--retain-hours", "0"]) == 0
    return before, files_holding(home, needles)


def test_the_search_sees_the_customer_in_every_layer_before(searched):
    before, _ = searched
    assert any(f.startswith("landing/events/") for f in before["id"])
    assert any(f.startswith("landing/customers/") for f in before["email"])
    assert any(f.startswith("lake/bronze/") for f in before["id"])
    for layer in ("silver", "gold"):
        assert any(f.startswith(f"lake/{layer}/") for f in before["key"]), layer


def test_no_file_holds_the_id_email_or_key_after(searched):
    _, after = searched
    left = {name: sorted(f for f in files if not f.startswith(ALLOWED)) for name, files in after.items()}
    assert left == {"id": [], "email": [], "key": []}
    assert any(f.startswith("lake/_ops/erasure_requests/") for f in after["key"])  # the request's record
