"""gold/cost_kpis_daily: each service's cloud cost per day against its traffic and customers.

FOCUS billing lines are attributed to a service by their `service` tag (FOCUS `ServiceName` names the
provider's product, e.g. "Amazon Simple Queue Service", so it is only the fallback) and joined with
that service's requests from silver/requests and the day's active customers.

Latency percentiles use `percentile_approx` with `gold.percentile_accuracy` (A): each reported value's
rank is within n/A of the exact percentile's rank (relative rank error 1/A), in memory O(A) per group,
where an exact percentile would sort every request of a service-day.

The anomaly flag compares the day with the service's own previous `anomaly_history_days` days, never
with the day itself or later ones. Cost follows traffic plus an idle baseline, so the expected cost
of day D is a least-squares line, cost = intercept + slope x requests, fitted on those previous days;
the score is the day's residual over a robust scale, 1.4826 x the median absolute residual of the
previous days (one earlier spike barely moves it), floored at 5% of their median cost so a perfectly
regular service does not flag cent-level noise:

    score = (cost_D - (intercept + slope x requests_D)) / max(1.4826 x median|residual|, 0.05 x median cost)

Flagged when score > `anomaly_threshold` with at least `anomaly_min_history_days` days of history.
A day without traffic is expected to cost the intercept (its idle baseline), not flagged for that.
Medians are exact: each group holds at most `anomaly_history_days` values.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.gold.planner import DayRange

COST = T.DecimalType(38, 11)
MAD_TO_SIGMA = 1.4826
MIN_SCALE = 0.05
ERROR_STATUS = 500  # errors = 5xx responses: the service failed, not the client

NEEDS = {
    "billing": (
        "charge_date",
        "ServiceName",
        "Tags",
        "ResourceId",
        "ConsumedQuantity",
        "BilledCost",
        "EffectiveCost",
        "ListCost",
    ),
    "requests": ("request_date", "service", "status", "latency_ms"),
    "events": ("event_date", "customer_key"),
}

SCHEMA = T.StructType(
    [
        T.StructField("date", T.DateType()),
        T.StructField("service", T.StringType()),
        T.StructField("billed_cost", COST),
        T.StructField("effective_cost", COST),
        T.StructField("list_cost", COST),
        T.StructField("resources", T.LongType()),
        T.StructField("idle_resources", T.LongType()),
        T.StructField("idle_cost", COST),
        T.StructField("requests", T.LongType()),
        T.StructField("errors", T.LongType()),
        T.StructField("error_rate", T.DoubleType()),
        T.StructField("latency_p50_ms", T.IntegerType()),
        T.StructField("latency_p95_ms", T.IntegerType()),
        T.StructField("latency_p99_ms", T.IntegerType()),
        T.StructField("active_customers", T.LongType()),
        T.StructField("cost_per_1k_requests", T.DoubleType()),
        T.StructField("cost_per_active_customer", T.DoubleType()),
        T.StructField("effective_savings_rate", T.DoubleType()),
        T.StructField("history_days", T.IntegerType()),
        T.StructField("anomaly_score", T.DoubleType()),
        T.StructField("is_anomaly", T.BooleanType()),
    ]
)


def billing_service() -> Column:
    return F.coalesce(F.col("Tags").getItem("service"), F.col("ServiceName"))


def _ratio(numerator: Column, denominator: Column) -> Column:
    return F.when(denominator > 0, numerator.cast("double") / denominator.cast("double"))


def _requests() -> Column:
    """A day without traffic has no request row at all; it served 0 requests, which the score needs."""
    return F.coalesce(F.col("requests"), F.lit(0))


def service_costs(billing: DataFrame) -> DataFrame:
    """Billing lines summed per (date, service); zero-usage lines kept apart, as they are paid for nothing."""
    idle_line = F.col("ConsumedQuantity") == 0
    return billing.groupBy(F.col("charge_date").alias("date"), billing_service().alias("service")).agg(
        F.sum("BilledCost").alias("billed_cost"),
        F.sum("EffectiveCost").alias("effective_cost"),
        F.sum("ListCost").alias("list_cost"),
        F.countDistinct("ResourceId").alias("resources"),
        F.countDistinct(F.when(idle_line, F.col("ResourceId"))).alias("idle_resources"),
        F.coalesce(F.sum(F.when(idle_line, F.col("EffectiveCost"))), F.lit(0)).alias("idle_line_cost"),
    )


def service_traffic(requests: DataFrame) -> DataFrame:
    """Requests and server errors per (date, service), over the history days too: the line's x."""
    return requests.groupBy(F.col("request_date").alias("date"), "service").agg(
        F.count(F.lit(1)).alias("requests"),
        F.sum(F.when(F.col("status") >= ERROR_STATUS, 1).otherwise(0)).cast("bigint").alias("errors"),
    )


def latency_percentiles(days: DayRange, accuracy: int) -> Callable[[DataFrame], DataFrame]:
    """Percentiles of the computed days only: the history days are read for the anomaly line, not this."""

    def step(requests: DataFrame) -> DataFrame:
        return (
            requests.filter(days.contains("request_date"))
            .groupBy(F.col("request_date").alias("date"), "service")
            .agg(F.percentile_approx("latency_ms", [0.5, 0.95, 0.99], accuracy).alias("p"))
        )

    return step


def active_customers(days: DayRange) -> Callable[[DataFrame], DataFrame]:
    """Distinct customers per day: the denominator of cost per customer, shared by every service."""

    def step(events: DataFrame) -> DataFrame:
        return (
            events.filter(F.col("customer_key").isNotNull() & days.contains("event_date"))
            .groupBy(F.col("event_date").alias("date"))
            .agg(F.countDistinct("customer_key").alias("active_customers"))
        )

    return step


def cost_points(daily: DataFrame) -> DataFrame:
    """The (requests, cost) points a line is fitted on, renamed so they can join the days they serve.

    Only billed days: a day with traffic but no bill yet would pull the line towards zero cost."""
    return daily.filter(F.col("effective_cost").isNotNull()).select(
        F.col("service").alias("h_service"),
        F.col("date").alias("h_date"),
        F.coalesce("requests", F.lit(0)).cast("double").alias("x"),
        F.col("effective_cost").cast("double").alias("y"),
    )


def history_pairs(points: DataFrame, history_days: int) -> Callable[[DataFrame], DataFrame]:
    """Each (service, date) with its own previous `history_days` points, never the day itself: a spike
    must not move the line it is judged against."""

    def step(current: DataFrame) -> DataFrame:
        in_history = (
            (F.col("h_service") == F.col("service"))
            & (F.col("h_date") >= F.date_sub("date", history_days))
            & (F.col("h_date") < F.col("date"))
        )
        return current.select("service", "date").join(points, in_history, how="inner")

    return step


def cost_line(pairs: DataFrame) -> DataFrame:
    """Least squares in closed form from sums: one aggregation per (service, date), no model to fit.

    A history at a single traffic level has no slope to fit: slope 0, the line is its mean cost."""
    n = F.count(F.lit(1))
    sx, sy = F.sum("x"), F.sum("y")
    sxx, sxy = F.sum(F.col("x") * F.col("x")), F.sum(F.col("x") * F.col("y"))
    sums = pairs.groupBy("service", "date").agg(
        n.cast("int").alias("history_days"),
        F.median("y").alias("median_cost"),
        (n * sxx - sx * sx).alias("_den"),
        (n * sxy - sx * sy).alias("_num"),
        sx.alias("_sx"),
        sy.alias("_sy"),
    )
    slope = F.when(F.col("_den") > 0, F.col("_num") / F.col("_den")).otherwise(F.lit(0.0))
    return sums.select(
        "service",
        "date",
        "history_days",
        "median_cost",
        slope.alias("slope"),
        ((F.col("_sy") - slope * F.col("_sx")) / F.col("history_days")).alias("intercept"),
    )


def residual_spread(line: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """The median absolute residual of the history around its line: a scale one spike barely moves."""

    def step(pairs: DataFrame) -> DataFrame:
        residual = F.col("y") - (F.col("intercept") + F.col("slope") * F.col("x"))
        return (
            pairs.join(line, on=["service", "date"], how="inner")
            .groupBy("service", "date")
            .agg(F.median(F.abs(residual)).alias("mad"))
        )

    return step


def with_anomaly(min_history_days: int, threshold: float) -> Callable[[DataFrame], DataFrame]:
    """Scores the day against its line (module docstring); too short a history never flags, since a
    line through a few points would flag ordinary noise."""

    def step(rows: DataFrame) -> DataFrame:
        expected = F.col("intercept") + F.col("slope") * _requests().cast("double")
        scale = F.greatest(F.lit(MAD_TO_SIGMA) * F.col("mad"), F.lit(MIN_SCALE) * F.col("median_cost"))
        score = F.when(scale > 0, (F.col("effective_cost").cast("double") - expected) / scale)
        flagged = (F.col("history_days") >= min_history_days) & (score > F.lit(threshold))
        return rows.select(
            "*", score.alias("anomaly_score"), F.coalesce(flagged, F.lit(False)).alias("is_anomaly")
        )

    return step


def cost_kpi_rows(rows: DataFrame) -> DataFrame:
    """The table's columns (SCHEMA is the contract): a service billed but not requested, or requested
    but not billed, still gets its row, with the missing side as 0 or null."""
    requests_n = _requests()
    derived = {
        "idle_cost": F.when(F.col("effective_cost").isNull(), F.lit(None))
        .when(requests_n == 0, F.col("effective_cost"))
        .otherwise(F.col("idle_line_cost")),
        "requests": requests_n,
        "errors": F.coalesce(F.col("errors"), F.lit(0)),
        "error_rate": _ratio(F.col("errors"), F.col("requests")),
        "latency_p50_ms": F.col("p")[0],
        "latency_p95_ms": F.col("p")[1],
        "latency_p99_ms": F.col("p")[2],
        "active_customers": F.coalesce(F.col("active_customers"), F.lit(0)),
        "cost_per_1k_requests": _ratio(F.col("effective_cost").cast("double") * 1000.0, requests_n),
        "cost_per_active_customer": _ratio(F.col("effective_cost"), F.col("active_customers")),
        "effective_savings_rate": _ratio(F.col("list_cost") - F.col("effective_cost"), F.col("list_cost")),
        "history_days": F.coalesce(F.col("history_days"), F.lit(0)),
    }
    return rows.select(*[derived.get(f.name, F.col(f.name)).cast(f.dataType).alias(f.name) for f in SCHEMA])


def cost_kpis(
    days: DayRange,
    requests: DataFrame,
    events: DataFrame,
    history_days: int,
    min_history_days: int,
    threshold: float,
    accuracy: int,
) -> Callable[[DataFrame], DataFrame]:
    """billing (covering `days` widened by `history_days` before; requests likewise; events `days`)
    -> cost_kpis_daily rows for `days`."""

    def transform(billing: DataFrame) -> DataFrame:
        # Full join: a service may be billed without traffic (idle) or serve traffic not yet billed.
        daily = billing.transform(service_costs).join(
            requests.transform(service_traffic), on=["date", "service"], how="full"
        )
        current = daily.filter(days.contains("date"))
        pairs = current.transform(history_pairs(cost_points(daily), history_days))
        line = cost_line(pairs)
        return (
            current.join(line, on=["service", "date"], how="left")
            .join(pairs.transform(residual_spread(line)), on=["service", "date"], how="left")
            .join(requests.transform(latency_percentiles(days, accuracy)), on=["date", "service"], how="left")
            .join(events.transform(active_customers(days)), on="date", how="left")
            .transform(with_anomaly(min_history_days, threshold))
            .transform(cost_kpi_rows)
        )

    return transform
