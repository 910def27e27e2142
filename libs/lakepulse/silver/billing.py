"""silver/billing: FOCUS 1.0 columns under their FOCUS names, typed, with FOCUS rules checked.

Costs are decimal(38,11) and quantities decimal(38,15), converted from the text as received (never
through a double), so sums reconcile with the export to the last digit; periods are timestamps;
`Tags` is a map. String columns are scrubbed of e-mail and IP addresses: real exports carry account
names, which are often e-mail addresses.

FOCUS rules run twice: at ingestion, where a breaking record is quarantined with its reason, and here
as a guard on the typed rows (action `fail`), with the outcomes recorded.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.contracts import expectations, schemas
from lakepulse.contracts.expectations import Expectation
from lakepulse.contracts.sources import BILLING, FOCUS_CHARGE_CATEGORIES
from lakepulse.silver.common import Context, Unit, Written, append_by_day, conform, scrub, typed
from lakepulse.silver.declared import silver_table
from lakepulse.silver.rules import required

TABLE = "billing"
RULES = [
    *required(schemas.SILVER_BILLING),
    Expectation("focus:EffectiveCost_not_null", "EffectiveCost IS NOT NULL", "fail"),
    Expectation("focus:BilledCost_not_null", "BilledCost IS NOT NULL", "fail"),
    Expectation("focus:ListCost_not_null", "ListCost IS NOT NULL", "fail"),
    Expectation("focus:BillingCurrency_not_null", "BillingCurrency IS NOT NULL", "fail"),
    Expectation(
        "focus:ChargeCategory_allowed",
        f"ChargeCategory IN ({', '.join(repr(c) for c in FOCUS_CHARGE_CATEGORIES)})",
        "fail",
    ),
    Expectation("focus:charge_period_order", "ChargePeriodEnd >= ChargePeriodStart", "fail"),
    Expectation(
        "focus:negative_cost_outside_credit",
        "BilledCost >= 0 OR ChargeCategory IN ('Credit', 'Adjustment')",
        "warn",
    ),
]
CREATE = silver_table(TABLE, RULES).creation_options()


def to_silver() -> Callable[[DataFrame], DataFrame]:
    def transform(bronze_typed: DataFrame) -> DataFrame:
        columns = []
        for f in schemas.SILVER_BILLING.fields:
            if f.name == "charge_date":
                columns.append(F.to_date("ChargePeriodStart").alias("charge_date"))
            elif f.name == "Tags":
                columns.append(F.transform_values("Tags", lambda _k, v: scrub(v)).alias("Tags"))
            elif isinstance(f.dataType, T.StringType):
                columns.append(scrub(f.name).alias(f.name))
            else:
                columns.append(F.col(f.name))
        return bronze_typed.select(*columns).transform(conform(schemas.SILVER_BILLING))

    return transform


def step(spark: SparkSession, bronze: DataFrame, ctx: Context) -> Written:
    silver = bronze.transform(typed(BILLING)).transform(to_silver()).persist()
    try:
        outcome, _ = expectations.count_failures(silver.transform(expectations.flag(RULES)), RULES)
        expectations.enforce(outcome, RULES, f"refine {TABLE}")
        if outcome.rows:
            # Ingestion keeps (Id or line, ChargePeriodStart) unique across bronze: an idempotent append.
            append_by_day(silver, ctx.config.table_path("silver", TABLE), "charge_date", ctx.txn, CREATE)
        return Written({TABLE: outcome.rows}, [(TABLE, RULES, outcome)])
    finally:
        silver.unpersist()


UNIT = Unit(TABLE, BILLING, (TABLE,), step)
