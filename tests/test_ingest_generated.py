"""End to end on the generator's output: ingest and refine reconcile with its planted truth (_truth/).

Counts come from the generator's own bookkeeping (`manifest.json`: records and valid records per
source; `bad_records.json`: bad records per source and reason, duplicates, the truncated file).
"""

from __future__ import annotations

import json
import re

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse import privacy
from tests.ingest_fixtures import run, table, versions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def generated(spark, tmp_path_factory):
    home = tmp_path_factory.mktemp("generated")
    assert run("generate", home, "--customers", "80", "--days", "6") == 0
    assert run("ingest", home) == 0
    assert run("refine", home) == 0
    truth = home / "landing" / "_truth"
    return (
        home,
        json.loads((truth / "bad_records.json").read_text()),
        json.loads((truth / "manifest.json").read_text()),
    )


def test_audit_and_quarantine_reconcile_with_the_generator_truth(spark, generated):
    home, bad, manifest = generated
    audit = {r.source: r for r in table(spark, home, "bronze", "ingest_audit").collect()}
    quarantine = table(spark, home, "bronze", "quarantine")
    got: dict[str, dict[str, int]] = {}
    for r in quarantine.groupBy("source", "reason").count().collect():
        got.setdefault(r.source, {})[r.reason] = r["count"]
    for source, n in manifest["records"].items():
        a = audit[source]
        assert a.records_read == n == a.loaded + a.quarantined + a.duplicates_dropped, source
        assert a.loaded == manifest["valid_records"][source], source
        expected = dict(bad[source])
        if bad["truncated_file"]["source"] == source:
            expected["corrupt_file"] = 1
        assert got.get(source, {}) == expected, source
    assert audit["events"].duplicates_dropped == bad["duplicates"]
    corrupt = quarantine.where(F.col("reason") == "corrupt_file").first()
    assert corrupt.source_file.endswith(bad["truncated_file"]["path"])


def test_silver_counts_and_pii_scan(spark, generated):
    home, _, manifest = generated
    assert table(spark, home, "silver", "events").count() == manifest["valid_records"]["events"]
    assert table(spark, home, "silver", "requests").count() == manifest["valid_records"]["access_logs"]
    email, ipv4 = re.compile(privacy.EMAIL_PATTERN), re.compile(privacy.IPV4_PATTERN)
    for layer in ("silver", "gold"):
        for log in sorted((home / "lake" / layer).glob("*/_delta_log")):
            df = spark.read.format("delta").load(str(log.parent))
            texts = [
                F.col(f.name) if isinstance(f.dataType, T.StringType) else F.to_json(F.col(f.name))
                for f in df.schema.fields
                if isinstance(f.dataType, (T.StringType, T.MapType, T.ArrayType, T.StructType))
            ]
            for row in df.select(*texts).collect():
                for value in row:
                    assert not (value and (email.search(value) or ipv4.search(value))), (
                        log.parent.name,
                        value,
                    )


def test_running_both_again_changes_no_table(spark, generated):
    home, _, _ = generated
    before = versions(home)
    assert run("ingest", home) == 0
    assert run("refine", home) == 0
    assert versions(home) == before
