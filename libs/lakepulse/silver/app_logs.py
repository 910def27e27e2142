"""silver/app_logs: structured application logs; free text scrubbed of e-mail and IP addresses."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse.contracts import expectations, schemas
from lakepulse.contracts.sources import APP_LOGS
from lakepulse.silver.common import Context, Unit, Written, append_by_day, conform, scrub, typed
from lakepulse.silver.declared import silver_table
from lakepulse.silver.rules import required

TABLE = "app_logs"
RULES = required(schemas.SILVER_APP_LOGS)
CREATE = silver_table(TABLE, RULES).creation_options()


def to_silver() -> Callable[[DataFrame], DataFrame]:
    def transform(bronze_typed: DataFrame) -> DataFrame:
        return bronze_typed.select(
            "ts",
            F.to_date("ts").alias("log_date"),
            "service",
            "level",
            scrub("message").alias("message"),
            "latency_ms",
            "trace_id",
            scrub("host").alias("host"),
        ).transform(conform(schemas.SILVER_APP_LOGS))

    return transform


def step(spark: SparkSession, bronze: DataFrame, ctx: Context) -> Written:
    silver = bronze.transform(typed(APP_LOGS)).transform(to_silver()).persist()
    try:
        outcome, _ = expectations.count_failures(silver.transform(expectations.flag(RULES)), RULES)
        expectations.enforce(outcome, RULES, f"refine {TABLE}")
        if outcome.rows:
            append_by_day(silver, ctx.config.table_path("silver", TABLE), "log_date", ctx.txn, CREATE)
        return Written({TABLE: outcome.rows}, [(TABLE, RULES, outcome)])
    finally:
        silver.unpersist()


UNIT = Unit(TABLE, APP_LOGS, (TABLE,), step)
