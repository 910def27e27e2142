"""What each gold table declares to Delta: the rules its definition guarantees, as CHECK constraints.

Gold has no rule list of its own to enforce at write time: its rows are computed, not received. The
constraints state what docs/gold.md defines and the computation guarantees, so a hand-made write (a
backfill from a notebook) that contradicts the definition is refused: the key columns are never null
(a missing segment is `unknown`), and shares whose numerator counts a subset of their denominator lie
in [0, 1]. Not declared: uniqueness of the key (not a row-level predicate), `cost_kpis_daily.service`
(null when a billing line has neither a service tag nor a ServiceName), `retention_cohorts` cohort
sizes against activity (a cross-row relation), and ratios that may exceed 1 (lift, trend ratios).
"""

from __future__ import annotations

from pyspark.sql import SparkSession

from lakepulse.contracts import comments
from lakepulse.contracts.expectations import Expectation
from lakepulse.runtime.table_meta import Declared, ensure_declared
from lakepulse.silver.declared import checks


def _not_null(*columns: str) -> list[Expectation]:
    return [Expectation(f"gold:{c}_not_null", f"`{c}` IS NOT NULL", "fail") for c in columns]


def _share(*columns: str) -> list[Expectation]:
    return [
        Expectation(f"gold:{c}_share", f"`{c}` IS NULL OR `{c}` BETWEEN 0 AND 1", "fail") for c in columns
    ]


RULES: dict[str, list[Expectation]] = {
    "customer_features": _not_null("as_of_date", "customer_key"),
    "kpi_daily": [*_not_null("date", "dimension", "segment"), *_share("conversion_rate", "churn_rate")],
    "retention_cohorts": [*_not_null("cohort_month", "activity_month"), *_share("retention_rate")],
    "market_signals": _not_null("date", "category", "country"),
    "promo_response": [
        *_not_null("date", "city_type", "weekday", "hour"),
        *_share("promo_conversion_rate", "baseline_conversion_rate"),
    ],
    "cost_kpis_daily": [*_not_null("date"), *_share("error_rate")],
}


def gold_table(table: str) -> Declared:
    name = f"gold/{table}"
    rules = RULES.get(table, [])
    return Declared({}, checks(rules), comments.TABLES.get(name), comments.COLUMNS.get(name, {}))


def ensure(spark: SparkSession, table: str, path: str) -> None:
    ensure_declared(spark, path, gold_table(table))
