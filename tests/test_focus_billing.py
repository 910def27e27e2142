"""Real FOCUS 1.0 billing (../shared/data/focus-1.0/focus_sample.csv, CC BY 4.0) taken as it is.

The expected sums are computed with Python's csv module and decimal.Decimal straight from the file:
every row must land in silver or in quarantine, and silver's cost sums must equal the file's exactly.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tests.ingest_fixtures import FOCUS_SAMPLE, run, table

COSTS = ("BilledCost", "EffectiveCost", "ListCost")


@pytest.fixture(scope="module")
def sample():
    with FOCUS_SAMPLE.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    home = tmp_path_factory.mktemp("focus")
    assert run("ingest", home, "--source", "billing", "--path", str(FOCUS_SAMPLE)) == 0
    # Refined by the streaming mode (availableNow over _ops/ingest_audit): the same step as a batch run.
    assert run("refine", home, "--source", "billing", "--stream") == 0
    return home


def test_every_row_lands_in_silver_or_quarantine(spark, lake, sample):
    audit = table(spark, lake, "_ops", "ingest_audit").collect()
    assert [(a.source, a.records_read) for a in audit] == [("billing", len(sample))]
    silver = table(spark, lake, "silver", "billing").count()
    quarantined = table(spark, lake, "bronze", "quarantine").where(F.col("source") == "billing")
    assert quarantined.where(F.col("reason").isNull()).count() == 0
    assert silver + quarantined.count() == len(sample) == 1000
    assert silver == audit[0].loaded


def test_cost_sums_equal_the_file_to_the_last_digit(spark, lake, sample):
    expected = {c: sum((Decimal(r[c]) for r in sample if r[c] != "NULL"), Decimal(0)) for c in COSTS}
    got = table(spark, lake, "silver", "billing").agg(*[F.sum(c).alias(c) for c in COSTS]).first()
    for c in COSTS:
        assert got[c] == expected[c], c
        assert got[c].as_tuple().exponent == -11  # all 11 fractional digits kept


def test_types_tags_and_timestamps(spark, lake, sample):
    silver = table(spark, lake, "silver", "billing")
    types = {f.name: f.dataType for f in silver.schema.fields}
    assert types["Tags"] == T.MapType(T.StringType(), T.StringType())
    assert types["ConsumedQuantity"] == T.DecimalType(38, 15)
    by_id = {r.Id: r for r in silver.collect()}
    for row in sample:
        got = by_id[row["Id"]]
        assert got.Tags == (None if row["Tags"] == "NULL" else json.loads(row["Tags"])), row["Id"]
        assert got.ChargePeriodStart == dt.datetime.strptime(row["ChargePeriodStart"], "%Y-%m-%d %H:%M:%S")
        assert got.ConsumedQuantity == (
            None if row["ConsumedQuantity"] == "NULL" else Decimal(row["ConsumedQuantity"])
        )
        # NULL literals are nulls; an empty quoted field stays an empty string.
        assert got.BillingAccountName == (
            "" if row["BillingAccountName"] == "" else row["BillingAccountName"]
        )
        assert got.ChargeClass is None
