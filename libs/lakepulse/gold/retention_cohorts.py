"""gold/retention_cohorts: monthly signup cohorts x months since signup (docs/gold.md).

One row per (cohort_month, activity_month): of the customers who signed up in the cohort month, how
many had at least one event in the activity month. A run recomputes whole activity months (the months
its days fall in, from their first day), so a month in progress is simply recomputed as it fills up;
`through_date` says which day a month's numbers run to and `is_complete_month` whether that is its end.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.gold.planner import DayRange

NEEDS = {
    "events": ("customer_key", "event_date"),
    "customers": ("customer_key", "signup_date"),
}

SCHEMA = T.StructType(
    [
        T.StructField("cohort_month", T.DateType()),
        T.StructField("activity_month", T.DateType()),
        T.StructField("months_since_signup", T.IntegerType()),
        T.StructField("cohort_size", T.LongType()),
        T.StructField("active_customers", T.LongType()),
        T.StructField("retention_rate", T.DoubleType()),
        T.StructField("through_date", T.DateType()),
        T.StructField("is_complete_month", T.BooleanType()),
    ]
)


def month_range(days: DayRange) -> DayRange:
    """The days a run over `days` recomputes: from the first day of `days.start`'s month."""
    return DayRange(days.start.replace(day=1), days.end)


def replace_predicate(days: DayRange) -> str:
    months = DayRange(days.start.replace(day=1), days.end.replace(day=1))
    return months.predicate("activity_month")


def retention_cohorts(days: DayRange, customers: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """events (covering `month_range(days)`) -> one row per cohort and activity month of `days`."""

    def transform(events: DataFrame) -> DataFrame:
        signups = customers.select("customer_key", F.trunc("signup_date", "month").alias("cohort_month"))
        sizes = signups.groupBy("cohort_month").agg(F.count(F.lit(1)).alias("cohort_size"))
        active = (
            events.filter(F.col("customer_key").isNotNull() & days.contains("event_date"))
            .select("customer_key", F.trunc("event_date", "month").alias("activity_month"))
            .distinct()
            .join(signups, on="customer_key", how="inner")
            .groupBy("cohort_month", "activity_month")
            .agg(F.count(F.lit(1)).alias("active_customers"))
        )
        months = F.sequence(
            F.lit(days.start.replace(day=1)), F.lit(days.end.replace(day=1)), F.expr("INTERVAL 1 MONTH")
        )
        grid = sizes.select("cohort_month", "cohort_size", F.explode(months).alias("activity_month")).filter(
            F.col("cohort_month") <= F.col("activity_month")
        )
        through = F.least(F.last_day("activity_month"), F.lit(days.end))
        rows = grid.join(active, on=["cohort_month", "activity_month"], how="left").select(
            "cohort_month",
            "activity_month",
            F.months_between("activity_month", "cohort_month").cast("int").alias("months_since_signup"),
            "cohort_size",
            F.coalesce(F.col("active_customers"), F.lit(0)).alias("active_customers"),
            (F.coalesce(F.col("active_customers"), F.lit(0)) / F.col("cohort_size")).alias("retention_rate"),
            through.alias("through_date"),
            (through == F.last_day("activity_month")).alias("is_complete_month"),
        )
        return rows.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in SCHEMA])

    return transform
