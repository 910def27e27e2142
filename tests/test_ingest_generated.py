"""End to end on the generator's output: ingest and refine reconcile with its planted truth (_truth/).

Runs on the shared pipeline run (tests/conftest.py, PIPELINE_SAMPLE: 800 customers x 75 days), so the
reconciliation covers the main job's real input rather than a private miniature of it; that running
everything again changes no table is test_pipeline's second run. Counts come from the generator's own
bookkeeping (`manifest.json`: records and valid records per source; `bad_records.json`: bad records per
source and reason, duplicates, the truncated file).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse import privacy
from tests.ingest_fixtures import table

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def generated(pipeline_lake):
    home = Path(pipeline_lake.config.paths.home)
    truth = Path(pipeline_lake.config.paths.landing) / "_truth"
    return (
        home,
        json.loads((truth / "bad_records.json").read_text()),
        json.loads((truth / "manifest.json").read_text()),
    )


def test_audit_and_quarantine_reconcile_with_the_generator_truth(spark, generated):
    home, bad, manifest = generated
    # Summed per source: a later run that found new files would add its own row.
    audit = {
        r.source: r
        for r in table(spark, home, "_ops", "ingest_audit")
        .groupBy("source")
        .agg(*(F.sum(c).alias(c) for c in ("records_read", "loaded", "quarantined", "duplicates_dropped")))
        .collect()
    }
    quarantine = table(spark, home, "bronze", "quarantine")
    got: dict[str, dict[str, int]] = {}
    for r in quarantine.groupBy("source", "reason").count().collect():
        got.setdefault(r.source, {})[r.reason] = r["count"]
    assert set(audit) == set(manifest["records"])
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
    """No e-mail address or IPv4 address in any text of any silver or gold table (the regexes run in
    Spark over every row: the sample's 140,000 events are too many to collect and scan in Python)."""
    home, _, manifest = generated
    assert table(spark, home, "silver", "events").count() == manifest["valid_records"]["events"]
    assert table(spark, home, "silver", "requests").count() == manifest["valid_records"]["access_logs"]
    scanned = set()
    for layer in ("silver", "gold"):
        for log in sorted((home / "lake" / layer).glob("*/_delta_log")):
            df = spark.read.format("delta").load(str(log.parent))
            texts = df.select(
                *(
                    (F.col(f.name) if isinstance(f.dataType, T.StringType) else F.to_json(f.name)).alias(
                        f.name
                    )
                    for f in df.schema.fields
                    if isinstance(f.dataType, (T.StringType, T.MapType, T.ArrayType, T.StructType))
                )
            )
            if not texts.columns:
                continue
            # One text per row (newline-joined: neither pattern spans a newline); the full patterns run
            # only where a cheap test finds an "@" or a digit-dot-digit.
            text = F.concat_ws("\n", *texts.columns)
            found = (text.contains("@") & text.rlike(privacy.EMAIL_PATTERN)) | (
                text.rlike(r"\d\.\d") & text.rlike(privacy.IPV4_PATTERN)
            )
            hits = texts.where(found).limit(3).collect()
            assert not hits, (log.parent.name, hits)
            scanned.add(f"{layer}/{log.parent.name}")
    # The scan really covered the tables that carry customer data.
    assert {"silver/events", "silver/customers", "silver/requests", "gold/churn_scores"} <= scanned
