"""silver/weather: one row per (date, country, city)."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from lakepulse.contracts import expectations, schemas
from lakepulse.contracts.sources import WEATHER
from lakepulse.runtime import delta_io
from lakepulse.silver.common import Context, Unit, Written, conform, typed
from lakepulse.silver.declared import silver_table
from lakepulse.silver.rules import required

TABLE = "weather"
RULES = required(schemas.SILVER_WEATHER)
CREATE = silver_table(TABLE, RULES).creation_options()


def step(spark: SparkSession, bronze: DataFrame, ctx: Context) -> Written:
    silver = bronze.transform(typed(WEATHER)).transform(conform(schemas.SILVER_WEATHER)).persist()
    try:
        outcome, _ = expectations.count_failures(silver.transform(expectations.flag(RULES)), RULES)
        expectations.enforce(outcome, RULES, f"refine {TABLE}")
        if outcome.rows:
            # Ingestion keeps (date, country, city) unique across bronze: an idempotent append suffices.
            delta_io.append(silver, ctx.config.table_path("silver", TABLE), txn=ctx.txn, properties=CREATE)
        return Written({TABLE: outcome.rows}, [(TABLE, RULES, outcome)])
    finally:
        silver.unpersist()


UNIT = Unit(TABLE, WEATHER, (TABLE,), step)
