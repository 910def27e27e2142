"""Delta table features: constraints refusing other writers, deletion vectors purged by erasure, comments,
and the lake's tables registered by name in a metastore that outlives the process.

Expected constraints are worked out from the schemas' NOT NULL columns and the rules as written in the
tests (not from lakepulse's declarations); rows are counted with delta-rs, a reader independent of the
Spark that wrote them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable as RustDeltaTable
from pyspark.sql import functions as F

from lakepulse.config import PROJECT_ROOT
from lakepulse.contracts import schemas
from lakepulse.gold import declared as gold_declared
from lakepulse.runtime import delta_io
from lakepulse.runtime.jars import ensure_delta_jars
from lakepulse.runtime.submit_args import submit_args
from lakepulse.runtime.table_meta import Declared, ensure_declared
from lakepulse.silver import customers as silver_customers
from lakepulse.silver.common import merge_insert_new
from tests.conftest import TEST_SPARK_OVERRIDES, load_job, make_config
from tests.delta_read import rs_count
from tests.ingest_fixtures import fixture_lake

SILVER_SCHEMAS = {
    "events": schemas.SILVER_EVENTS,
    "customers": schemas.SILVER_CUSTOMERS,
    "customer_history": schemas.SILVER_CUSTOMERS,
    "prices": schemas.SILVER_PRICES,
    "requests": schemas.SILVER_REQUESTS,
    "app_logs": schemas.SILVER_APP_LOGS,
    "billing": schemas.SILVER_BILLING,
    "weather": schemas.SILVER_WEATHER,
}


def constraints(path: str) -> dict[str, str]:
    configuration = RustDeltaTable(path).metadata().configuration
    return {k.removeprefix("delta.constraints."): v for k, v in configuration.items() if "constraints" in k}


@pytest.fixture(scope="module")
def refined(tmp_path_factory):
    home, _ = fixture_lake(tmp_path_factory, refined=True)
    return home / "lake" / "silver"


def test_refine_declares_each_silver_rule_as_a_constraint(refined):
    for table, schema in SILVER_SCHEMAS.items():
        path = str(refined / table)
        expected = {f"rule_conformed_{f.name.lower()}" for f in schema.fields if not f.nullable}
        if table == "events":
            expected.add("rule_conformed_unit_price")
        if table == "billing":
            expected |= {
                "rule_focus_effectivecost_not_null",
                "rule_focus_billedcost_not_null",
                "rule_focus_listcost_not_null",
                "rule_focus_billingcurrency_not_null",
                "rule_focus_chargecategory_allowed",
                "rule_focus_charge_period_order",
            }  # not the warn rule negative_cost_outside_credit
        assert set(constraints(path)) == expected, table


def test_deletion_vectors_only_where_merge_updates_and_delta_rs_reads_every_table(spark, refined):
    for table in SILVER_SCHEMAS:
        path = str(refined / table)
        rust = RustDeltaTable(path)
        has_dv = "deletionVectors" in (rust.protocol().reader_features or [])
        assert has_dv == (table in ("customers", "prices")), table
        spark_rows = delta_io.read_delta(spark, path).count()
        assert rs_count(path) == spark_rows, table
        if not has_dv:  # the pyarrow reader (to_pandas) works on every other table
            assert len(rust.to_pandas()) == spark_rows, table


def test_silver_tables_carry_comments_from_the_docs(refined):
    docs = (PROJECT_ROOT / "docs" / "silver.md").read_text()
    for table in SILVER_SCHEMAS:
        rust = RustDeltaTable(str(refined / table))
        assert rust.metadata().description and "docs/silver.md" in rust.metadata().description, table
        assert f"`{table}`" in docs
    fields = {f.name: f for f in RustDeltaTable(str(refined / "events")).schema().fields}
    assert "keyed HMAC-SHA256" in fields["customer_key"].metadata["comment"]


def _violates(spark, path: str, frame) -> str:
    with pytest.raises(Exception) as caught:  # noqa: PT011 - py4j wraps Delta's exception
        frame.write.format("delta").mode("append").save(path)
    return str(caught.value)


def test_another_writer_breaking_a_rule_is_refused(spark, refined):
    path = str(refined / "events")
    version = delta_io.table_version(spark, path)
    one = delta_io.read_delta(spark, path).limit(1)
    message = _violates(spark, path, one.withColumn("session_id", F.lit(None).cast("string")))
    assert "rule_conformed_session_id" in message and "CHECK constraint" in message
    message = _violates(spark, path, one.withColumn("unit_price", F.lit(-1).cast("decimal(12,2)")))
    assert "rule_conformed_unit_price" in message
    billing = str(refined / "billing")
    line = delta_io.read_delta(spark, billing).limit(1).withColumn("ChargeCategory", F.lit("Bogus"))
    assert "rule_focus_chargecategory_allowed" in _violates(spark, billing, line)
    assert delta_io.table_version(spark, path) == version  # nothing was committed


def test_gold_table_of_an_older_lake_gets_its_declarations(spark, tmp_path):
    """A gold table written without constraints (an older lakepulse) is brought up to date idempotently."""
    path = str(tmp_path / "kpi_daily")
    rows = [("2026-01-01", "all", "all", 0.25, 0.1), ("2026-01-01", "plan", "basic", None, None)]
    columns = "date STRING, dimension STRING, segment STRING, conversion_rate DOUBLE, churn_rate DOUBLE"
    spark.createDataFrame(rows, columns).withColumn("date", F.to_date("date")).write.format("delta").save(
        path
    )
    gold_declared.ensure(spark, "kpi_daily", path)
    version = delta_io.table_version(spark, path)
    gold_declared.ensure(spark, "kpi_daily", path)  # nothing left to declare: no commit
    assert delta_io.table_version(spark, path) == version
    assert set(constraints(path)) == {
        "rule_gold_date_not_null",
        "rule_gold_dimension_not_null",
        "rule_gold_segment_not_null",
        "rule_gold_conversion_rate_share",
        "rule_gold_churn_rate_share",
    }
    base = delta_io.read_delta(spark, path).limit(1)
    assert "rule_gold_segment_not_null" in _violates(
        spark, path, base.withColumn("segment", F.lit(None).cast("string"))
    )
    assert "rule_gold_conversion_rate_share" in _violates(
        spark, path, base.withColumn("conversion_rate", F.lit(1.5))
    )
    rust = RustDeltaTable(path)
    assert len(rust.to_pandas()) == 2
    assert "docs/gold.md" in rust.metadata().description
    fields = {f.name: f for f in rust.schema().fields}
    assert fields["segment"].metadata["comment"] == "the dimension's value, or unknown"


KEY = "test-erasure-key"


def key_of(customer_id: str) -> str:
    return hmac.new(KEY.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


def test_forget_purges_rows_held_by_deletion_vectors(spark, tmp_path):
    home = tmp_path / "home"
    config = make_config(home)
    ids = ["C00000042", "C00000007", "C00000009"]
    customers = spark.createDataFrame(
        [(key_of(c), c[-1]) for c in ids], "customer_key STRING, plan STRING"
    ).select(
        "customer_key",
        "plan",
        F.to_timestamp(F.lit("2026-01-01 00:00:00")).alias("updated_at"),
    )
    current = config.table_path("silver", "customers")
    delta_io.append(customers.repartition(1), current, properties=silver_customers.CREATE["customers"])
    events = spark.createDataFrame(
        [(f"e{i}", key_of(c)) for i, c in enumerate(ids * 2)], "event_id STRING, customer_key STRING"
    ).select("event_id", "customer_key", F.to_date(F.lit("2026-01-01")).alias("event_date"))
    path = config.table_path("silver", "events")
    merge_insert_new(
        spark,
        events.repartition(1),
        path,
        "false",
        ("t", 0),
        ["event_date"],
        {"delta.enableChangeDataFeed": "true"},
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAKEPULSE_PSEUDONYM_KEY", KEY)
        argv = [f"--set=paths.home={home}", "--customer", ids[0], "--vacuum", "--retain-hours", "0"]
        assert load_job("forget").main(argv) == 0
    history = (
        spark.sql(f"DESCRIBE HISTORY delta.`{current}`").select("operation", "operationMetrics").collect()
    )
    # forget erases by MERGE ... WHEN MATCHED THEN DELETE (its predicate, a clear id, stays out of the log)
    erased = next(r["operationMetrics"] for r in history if r["operation"] == "MERGE")
    assert int(erased["numTargetRowsDeleted"]) == 1, erased
    assert int(erased["numTargetDeletionVectorsAdded"]) == 1, erased  # the row was only marked deleted
    assert any(r["operation"] == "REORG" for r in history)
    for table in (current, path):
        files = list(Path(table).rglob("*.parquet"))
        assert files
        for file in files:  # every file left on storage, change data included, read without Delta
            assert key_of(ids[0]) not in json.dumps(pq.read_table(file).to_pylist(), default=str), file
    assert rs_count(current) == 2 and rs_count(path) == 4


def _spark_sql(home: Path, query: str, env: dict[str, str]) -> str:
    """pyspark's own bin/spark-sql with the run's settings (spark-submit.sh's) and Delta's jars."""
    import pyspark

    spark_sql = Path(pyspark.__file__).parent / "bin" / "spark-sql"
    overrides = [*TEST_SPARK_OVERRIDES, f"paths.home={home}", "catalog.enabled=true"]
    args = submit_args(
        ["--config", str(PROJECT_ROOT / "conf" / "local.yaml"), *[f"--set={o}" for o in overrides]]
    )
    jars = ",".join(str(p) for p in ensure_delta_jars())
    done = subprocess.run(
        [str(spark_sql), *args, "--jars", jars, "-S", "-e", query],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow  # two Spark processes of their own: a writing job, then pyspark's spark-sql
def test_tables_registered_by_name_outlive_the_process(spark, tmp_path):
    home = tmp_path / "home"
    config = make_config(home)
    kpis = spark.createDataFrame(
        [(d, "all", "all") for d in range(7)], "d INT, dimension STRING, segment STRING"
    )
    delta_io.append(
        kpis.select(
            F.date_add(F.lit("2026-01-01").cast("date"), F.col("d")).alias("date"),
            "dimension",
            "segment",
            F.lit(0.5).alias("conversion_rate"),
            F.lit(None).cast("double").alias("churn_rate"),
        ),
        config.table_path("gold", "kpi_daily"),
    )
    delta_io.append(spark.range(3).toDF("n"), config.table_path("silver", "scratch"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "libs"), str(PROJECT_ROOT)])}
    overrides = [f"--set={o}" for o in (*TEST_SPARK_OVERRIDES, f"paths.home={home}", "catalog.enabled=true")]
    # A writing job in its own process registers the tables at its end (maintain, as every writing job).
    done = subprocess.run(
        [sys.executable, "-m", "lakepulse.jobs.maintain", *overrides],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (home / "metastore").is_dir()  # the Derby metastore lives under the home
    out = _spark_sql(
        home, "SELECT count(*) FROM lakepulse_gold.kpi_daily; SHOW TABLES IN lakepulse_silver;", env
    )
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    assert int(lines[0]) == len(RustDeltaTable(config.table_path("gold", "kpi_daily")).to_pandas()) == 7
    assert any(re.search(r"\bscratch\b", line) for line in lines[1:])


def test_a_rule_over_a_column_an_older_table_lacks_is_skipped(spark, tmp_path):
    path = str(tmp_path / "old")
    spark.createDataFrame([("a",)], "dimension STRING").write.format("delta").save(path)
    declared = Declared(
        checks={
            "rule_a": "coalesce((`dimension` IS NOT NULL), false)",
            "rule_b": "coalesce((`gone` > 0), false)",
        }
    )
    ensure_declared(spark, path, declared)
    assert set(constraints(path)) == {"rule_a"}


GOLD_SCHEMAS = {
    "customer_features": "customer_features",
    "kpi_daily": "kpi_daily",
    "retention_cohorts": "retention_cohorts",
    "market_signals": "market_signals",
    "promo_response": "promo_response",
    "cost_kpis_daily": "cost_kpis",
    "churn_labels": "churn_label",
    "product_demand_daily": "product_demand",
}


@pytest.mark.parametrize("table", sorted(GOLD_SCHEMAS))
def test_every_declared_gold_rule_and_comment_names_columns_of_the_table(spark, table):
    """A rule over a column the table does not have would be written into a new table's first commit
    (creation options), where Delta checks every row against it: the write fails. Analysis only."""
    import importlib

    schema = importlib.import_module(f"lakepulse.gold.{GOLD_SCHEMAS[table]}").SCHEMA
    empty = spark.createDataFrame([], schema)
    declared = gold_declared.gold_table(table)
    for name, expr in declared.checks.items():
        # an unknown column raises AnalysisException here
        assert empty.select(F.expr(expr).alias(name)).schema.fieldNames() == [name]
    assert set(declared.column_comments) <= set(schema.fieldNames())


def test_the_gold_schema_list_covers_every_table_with_rules():
    assert set(gold_declared.RULES) <= set(GOLD_SCHEMAS)
