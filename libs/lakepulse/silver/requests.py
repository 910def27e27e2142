"""silver/requests: the access log as typed requests, ids in paths replaced, client IPs truncated.

The path template drops the query string and replaces every segment holding a digit or an `@` (ids,
product codes, e-mail addresses) with `{id}`: `/api/products/P0042?ref=home` -> `/api/products/{id}`.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse import privacy
from lakepulse.contracts import expectations, schemas
from lakepulse.contracts.sources import ACCESS_LOGS
from lakepulse.silver.common import Context, Unit, Written, append_by_day, conform, scrub, typed
from lakepulse.silver.declared import silver_table
from lakepulse.silver.rules import required

TABLE = "requests"
RULES = required(schemas.SILVER_REQUESTS)
CREATE = silver_table(TABLE, RULES).creation_options()


def path_template(target: Column) -> Column:
    path = F.regexp_replace(target, r"[?#].*$", "")
    path = F.regexp_replace(path, r"/[^/]*[0-9@][^/]*", "/{id}")
    return F.when(path == F.lit(""), F.lit("/")).otherwise(path)


def to_silver() -> Callable[[DataFrame], DataFrame]:
    def transform(bronze_typed: DataFrame) -> DataFrame:
        return bronze_typed.select(
            F.col("request_time").alias("request_ts"),
            F.to_date("request_time").alias("request_date"),
            "service",
            "method",
            path_template(F.col("request_target")).alias("path_template"),
            "status",
            "bytes",
            "latency_ms",
            privacy.truncate_ip("client_ip").alias("client_ip_prefix"),
            scrub("user_agent").alias("user_agent"),
        ).transform(conform(schemas.SILVER_REQUESTS))

    return transform


def step(spark: SparkSession, bronze: DataFrame, ctx: Context) -> Written:
    silver = bronze.transform(typed(ACCESS_LOGS)).transform(to_silver()).persist()
    try:
        outcome, _ = expectations.count_failures(silver.transform(expectations.flag(RULES)), RULES)
        expectations.enforce(outcome, RULES, f"refine {TABLE}")
        if outcome.rows:
            append_by_day(silver, ctx.config.table_path("silver", TABLE), "request_date", ctx.txn, CREATE)
        return Written({TABLE: outcome.rows}, [(TABLE, RULES, outcome)])
    finally:
        silver.unpersist()


UNIT = Unit(TABLE, ACCESS_LOGS, (TABLE,), step)
