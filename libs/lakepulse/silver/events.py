"""silver/events: typed, pseudonymised, coarsened, one row per event id, late events merged.

Ingestion already quarantined events later than the late window and dropped duplicate ids, so the
MERGE is insert-only (first arrival wins) and only reads the target partitions of this step's days
widened by the late window: a re-sent id is found without scanning the table's history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse import privacy
from lakepulse.contracts import expectations, schemas
from lakepulse.contracts.sources import EVENTS
from lakepulse.silver.common import Context, Unit, Written, conform, merge_insert_new, pseudonym, scrub, typed
from lakepulse.silver.declared import silver_table
from lakepulse.silver.rules import required

TABLE = "events"
RULES = [
    *required(schemas.SILVER_EVENTS),
    expectations.Expectation("conformed:unit_price", "unit_price IS NULL OR unit_price > 0", "fail"),
]
CREATE = silver_table(TABLE, RULES).creation_options()


def to_silver() -> Callable[[DataFrame], DataFrame]:
    """Typed bronze rows with the key's pads (`privacy.with_key`) -> silver rows."""

    def transform(bronze_typed: DataFrame) -> DataFrame:
        return (
            bronze_typed.select(
                "*",
                F.to_date("event_ts").alias("event_date"),
                pseudonym("customer_id").alias("customer_key"),
                privacy.coarsen_coordinate("lat").alias("_lat"),
                privacy.coarsen_coordinate("lon").alias("_lon"),
                scrub("search_query").alias("_search_query"),
                scrub("page").alias("_page"),
            )
            .select(
                *[
                    c
                    for c in schemas.SILVER_EVENTS.fieldNames()
                    if c not in ("lat", "lon", "search_query", "page")
                ],
                F.col("_lat").alias("lat"),
                F.col("_lon").alias("lon"),
                F.col("_search_query").alias("search_query"),
                F.col("_page").alias("page"),
            )
            .transform(conform(schemas.SILVER_EVENTS))
        )

    return transform


def step(spark: SparkSession, bronze: DataFrame, ctx: Context) -> Written:
    silver = (
        bronze.transform(typed(EVENTS)).transform(privacy.with_key(ctx.key)).transform(to_silver()).persist()
    )
    try:
        flagged = silver.transform(expectations.flag(RULES))
        outcome, row = expectations.count_failures(
            flagged, RULES, [F.min("event_date").alias("lo"), F.max("event_date").alias("hi")]
        )
        expectations.enforce(outcome, RULES, f"refine {TABLE}")
        if outcome.rows:
            window = dt.timedelta(days=ctx.config.ingest.late_window_days)
            lo, hi = row["lo"] - window, row["hi"] + window
            condition = f"t.event_id = s.event_id AND t.event_date BETWEEN DATE'{lo}' AND DATE'{hi}'"
            path = ctx.config.table_path("silver", TABLE)
            merge_insert_new(spark, silver, path, condition, ctx.txn, ["event_date"], CREATE)
        return Written({TABLE: outcome.rows}, [(TABLE, RULES, outcome)])
    finally:
        silver.unpersist()


UNIT = Unit(TABLE, EVENTS, (TABLE,), step)
