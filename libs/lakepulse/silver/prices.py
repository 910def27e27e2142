"""silver/prices: one row per price change as a validity interval [valid_from, valid_to).

`valid_to` is the product's next change's `valid_from` (null while current). New changes can close the
current interval or, arriving out of order, split an older one, so a step recomputes the intervals of
the products it touches, from their silver rows and the new changes, and MERGEs them: other products'
rows are not read.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lakepulse.contracts import expectations, schemas
from lakepulse.contracts.sources import PRICES
from lakepulse.runtime import delta_io
from lakepulse.silver.common import Context, Unit, Written, conform, dml_txn, typed
from lakepulse.silver.declared import silver_table
from lakepulse.silver.rules import required

TABLE = "prices"
RULES = required(schemas.SILVER_PRICES)
CREATE = silver_table(TABLE, RULES).creation_options()


def changes(bronze_typed: DataFrame) -> DataFrame:
    return bronze_typed.select(
        "product_id", "category", "price", "currency", F.col("effective_from").alias("valid_from")
    )


def intervals(changes_df: DataFrame) -> DataFrame:
    """Validity intervals of every product in `changes_df` ((product_id, valid_from) unique)."""
    following = Window.partitionBy("product_id").orderBy("valid_from")
    return changes_df.select("*", F.lead("valid_from").over(following).alias("valid_to")).transform(
        conform(schemas.SILVER_PRICES)
    )


def step(spark: SparkSession, bronze: DataFrame, ctx: Context) -> Written:
    new = bronze.transform(typed(PRICES)).transform(changes)
    path = ctx.config.table_path("silver", TABLE)
    if delta_io.is_delta(spark, path):
        known = delta_io.read_delta(spark, path).join(
            new.select("product_id").distinct(), "product_id", "left_semi"
        )
        # A change already in silver is not new (ingestion keeps keys unique; this guards a rerun).
        fresh = new.join(known.select("product_id", "valid_from"), ["product_id", "valid_from"], "left_anti")
        combined = known.drop("valid_to").unionByName(fresh)
    else:
        combined = new
    recomputed = intervals(combined).persist()
    try:
        outcome, _ = expectations.count_failures(recomputed.transform(expectations.flag(RULES)), RULES)
        expectations.enforce(outcome, RULES, f"refine {TABLE}")
        if outcome.rows:
            if not delta_io.is_delta(spark, path):
                delta_io.append(recomputed, path, txn=ctx.txn, properties=CREATE)
            else:
                with dml_txn(spark, ctx.txn):
                    delta_io.merge(
                        spark,
                        recomputed,
                        path,
                        "t.product_id = s.product_id AND t.valid_from = s.valid_from",
                        "WHEN MATCHED AND NOT (t.valid_to <=> s.valid_to) THEN UPDATE SET t.valid_to = s.valid_to "
                        "WHEN NOT MATCHED THEN INSERT *",
                    )
        return Written({TABLE: outcome.rows}, [(TABLE, RULES, outcome)])
    finally:
        recomputed.unpersist()


UNIT = Unit(TABLE, PRICES, (TABLE,), step)
