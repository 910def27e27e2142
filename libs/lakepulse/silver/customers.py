"""silver/customers (current state, MERGE) and silver/customer_history (every state received).

The current state of a customer is its state with the latest `updated_at`, whatever the order the
states arrive in: the MERGE only replaces a row with a strictly later state.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lakepulse import privacy
from lakepulse.contracts import expectations, schemas
from lakepulse.contracts.sources import CUSTOMERS
from lakepulse.runtime import delta_io
from lakepulse.silver.common import Context, Unit, Written, conform, dml_txn, pseudonym, typed
from lakepulse.silver.declared import silver_table
from lakepulse.silver.rules import required

CURRENT, HISTORY = "customers", "customer_history"
RULES = required(schemas.SILVER_CUSTOMERS)
CREATE = {t: silver_table(t, RULES).creation_options() for t in (CURRENT, HISTORY)}


def to_silver() -> Callable[[DataFrame], DataFrame]:
    """Typed bronze rows with the key's pads (`privacy.with_key`) -> silver rows."""

    def transform(bronze_typed: DataFrame) -> DataFrame:
        return bronze_typed.select(
            pseudonym("customer_id").alias("customer_key"),
            "signup_date",
            "country",
            "city",
            "city_type",
            "plan",
            "acquisition_channel",
            "age_band",
            privacy.pseudonymise(F.lower(F.trim(F.col("email")))).alias("email_hash"),
            privacy.truncate_ip(F.trim(F.col("ip_address"))).alias("ip_prefix"),
            "updated_at",
        ).transform(conform(schemas.SILVER_CUSTOMERS))

    return transform


def latest(states: DataFrame) -> DataFrame:
    """Each customer's latest state among `states` ((customer_key, updated_at) is unique)."""
    newest = Window.partitionBy("customer_key").orderBy(F.col("updated_at").desc())
    return states.select("*", F.row_number().over(newest).alias("_n")).where(F.col("_n") == 1).drop("_n")


def step(spark: SparkSession, bronze: DataFrame, ctx: Context) -> Written:
    states = (
        bronze.transform(typed(CUSTOMERS))
        .transform(privacy.with_key(ctx.key))
        .transform(to_silver())
        .persist()
    )
    try:
        customers = F.count_distinct("customer_key").alias("customers")
        outcome, row = expectations.count_failures(
            states.transform(expectations.flag(RULES)), RULES, [customers]
        )
        expectations.enforce(outcome, RULES, f"refine {CURRENT}")
        if outcome.rows:
            history = ctx.config.table_path("silver", HISTORY)
            # Ingestion keeps (customer_id, updated_at) unique across bronze: an idempotent append suffices.
            delta_io.append(states, history, txn=ctx.txn, properties=CREATE[HISTORY])
            current = ctx.config.table_path("silver", CURRENT)
            newest = latest(states)
            if not delta_io.is_delta(spark, current):
                delta_io.append(newest, current, txn=ctx.txn, properties=CREATE[CURRENT])
            else:
                with dml_txn(spark, ctx.txn):
                    delta_io.merge(
                        spark,
                        newest,
                        current,
                        "t.customer_key = s.customer_key",
                        "WHEN MATCHED AND s.updated_at > t.updated_at THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *",
                    )
        # Customers whose state this step received (inserted, or updated when newer).
        return Written({HISTORY: outcome.rows, CURRENT: int(row["customers"])}, [(CURRENT, RULES, outcome)])
    finally:
        states.unpersist()


UNIT = Unit(CURRENT, CUSTOMERS, (CURRENT, HISTORY), step)
