"""gold/promo_response: which segments (city type x weekday x hour, UTC) answer flash promos, per day.

For each day D and segment, over the `window` days ending on D (D included):
- promo sessions: session-days with a promo_view; converted when the promo was redeemed, i.e. a
  purchase carrying a promo code follows the session's first promo_view (a purchase without the code
  is organic: it would count in the baseline too, and crediting it to the promo would blur the
  promo's own effect with the segment's ordinary buying);
- baseline sessions: session-days without a promo_view; converted when they hold any purchase;
- lift = promo conversion rate / baseline conversion rate, uplift = their difference;
- the response test: the segment's promo conversion rate against that of every other segment of a
  known city type in the same window (one-sided two-proportion z-test, pooled), over the segments
  tested that day (at least `min_sessions` promo and baseline sessions, a known city type), with
  the Benjamini-Hochberg correction; `responsive` when the adjusted p-value is at most `fdr`.
A session's segment is its customer's city type (state in force that day; `unknown` for anonymous
sessions) and the weekday and hour (UTC) of its first event. Tested segments are ranked per day:
responsive ones first, then by lift.

Why hours rather than fixed bands: a band chosen in advance finds a responsive segment only when it
happens to fit inside one band; hour-level segments let the data say which hours respond, at the
price of many more segments (2 city types x 7 weekdays x 24 hours), hence the minimum support and
the control of the false discovery rate over the segments tested each day.

Why the test compares with the other segments' promo conversion and not with the segment's own
baseline: the two rates measure different things (a redeemed promo against any purchase of a session
without promo), so promo conversion is below the baseline in most segments whatever the promo does;
a segment responds when its promo views convert more than promo views elsewhere. Lift keeps its
meaning for reading a segment; the test decides which segments stand out.

The p-value is computed in Spark expressions over the aggregated segments (a few hundred rows per
day), with Hart's rational approximation of the normal tail (algorithm 5666, as given by West 2005):
Spark SQL has no erf or normal CDF, and this one is accurate to about 1e-15 absolute and 1e-8
relative, against which a Python UDF would buy nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.gold.daily import EVENT_COLUMNS, session_days
from lakepulse.gold.planner import DayRange
from lakepulse.gold.windows import Frame, framed, join_state, state_intervals

UNKNOWN = "unknown"
SEGMENT = ("city_type", "weekday", "hour")
NEEDS = {
    "events": EVENT_COLUMNS,
    "customer_history": ("customer_key", "updated_at", "city_type"),
}

SCHEMA = T.StructType(
    [
        T.StructField("date", T.DateType()),
        T.StructField("window_start", T.DateType()),
        T.StructField("city_type", T.StringType()),
        T.StructField("weekday", T.StringType()),
        T.StructField("hour", T.IntegerType()),
        T.StructField("promo_sessions", T.LongType()),
        T.StructField("promo_conversions", T.LongType()),
        T.StructField("promo_conversion_rate", T.DoubleType()),
        T.StructField("baseline_sessions", T.LongType()),
        T.StructField("baseline_conversions", T.LongType()),
        T.StructField("baseline_conversion_rate", T.DoubleType()),
        T.StructField("lift", T.DoubleType()),
        T.StructField("uplift", T.DoubleType()),
        T.StructField("others_promo_conversion_rate", T.DoubleType()),
        T.StructField("z_score", T.DoubleType()),
        T.StructField("p_value", T.DoubleType()),
        T.StructField("q_value", T.DoubleType()),
        T.StructField("responsive", T.BooleanType()),
        T.StructField("lift_rank", T.IntegerType()),
    ]
)

# Hart's algorithm 5666 (West 2005): the normal tail P(Z > x) for x >= 0.
_HART_NUMERATOR = (
    0.0352624965998911, 0.700383064443688, 6.37396220353165, 33.912866078383, 112.079291497871,
    221.213596169931, 220.206867912376,
)  # fmt: skip
_HART_DENOMINATOR = (
    0.0883883476483184, 1.75566716318264, 16.064177579207, 86.7807322029461, 296.564248779674,
    637.333633378831, 793.826512519948, 440.413735824752,
)  # fmt: skip
_HART_SPLIT = 7.07106781186547  # below: the rational function; above: a continued fraction
_SQRT_2PI = 2.506628274631


def _horner(x: Column, coefficients: tuple[float, ...]) -> Column:
    value = F.lit(coefficients[0])
    for c in coefficients[1:]:
        value = value * x + F.lit(c)
    return value


def normal_tail(z: Column) -> Column:
    """P(Z > z) for a standard normal Z, in Spark expressions; null for a null z."""
    x = F.abs(z)
    density = F.exp(-x * x / 2)
    rational = density * _horner(x, _HART_NUMERATOR) / _horner(x, _HART_DENOMINATOR)
    fraction = x + 0.65
    for k in (4, 3, 2, 1):
        fraction = x + F.lit(k) / fraction
    far = density / fraction / _SQRT_2PI
    tail = F.when(x > 37, F.lit(0.0)).when(x < _HART_SPLIT, rational).otherwise(far)
    return F.when(z >= 0, tail).otherwise(1 - tail)


def _rate(numerator: str, denominator: str) -> Column:
    return F.when(F.col(denominator) > 0, F.col(numerator) / F.col(denominator))


def segment_days(history: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Promo and baseline session counts per (day, segment): the window then slides over a few rows per
    segment, not over sessions."""

    def step(events: DataFrame) -> DataFrame:
        states = state_intervals(history.select("customer_key", "updated_at", "city_type"), extend_first=True)
        sessions = join_state(session_days(events), states, "event_date", ["city_type"])
        promo = F.col("has_promo_view")
        return (
            sessions.select(
                "event_date",
                F.coalesce("city_type", F.lit(UNKNOWN)).alias("city_type"),
                F.date_format("start_ts", "EEEE").alias("weekday"),
                F.hour("start_ts").alias("hour"),
                promo.cast("bigint").alias("promo"),
                (promo & F.col("redeemed_after_promo")).cast("bigint").alias("promo_conv"),
                (~promo).cast("bigint").alias("base"),
                (~promo & F.col("has_purchase")).cast("bigint").alias("base_conv"),
            )
            .groupBy("event_date", *SEGMENT)
            .agg(*[F.sum(c).alias(c) for c in ("promo", "promo_conv", "base", "base_conv")])
        )

    return step


def promo_windows(days: DayRange, window_days: int) -> Callable[[DataFrame], DataFrame]:
    """Each segment on each computed day, summed over the window ending on it; a segment without any
    session in the window gets no row (nothing to compare)."""

    def step(daily: DataFrame) -> DataFrame:
        anchors = daily.select(*SEGMENT).distinct().select(*SEGMENT, F.explode(days.sequence()).alias("date"))
        lo = -(window_days - 1)
        frames = [
            Frame("promo_sessions", "promo", lo, 0),
            Frame("promo_conversions", "promo_conv", lo, 0),
            Frame("baseline_sessions", "base", lo, 0),
            Frame("baseline_conversions", "base_conv", lo, 0),
        ]
        out = framed(daily, anchors, list(SEGMENT), "event_date", "date", frames)
        return out.filter((F.col("promo_sessions") + F.col("baseline_sessions")) > 0)

    return step


def promo_lift(window_days: int) -> Callable[[DataFrame], DataFrame]:
    """Lift as a ratio of rates, so segments of very different traffic compare; null where either side
    saw no session (no rate to compare)."""

    def step(windows: DataFrame) -> DataFrame:
        rated = windows.select(
            "*",
            F.date_sub("date", window_days - 1).alias("window_start"),
            _rate("promo_conversions", "promo_sessions").alias("promo_conversion_rate"),
            _rate("baseline_conversions", "baseline_sessions").alias("baseline_conversion_rate"),
        )
        return rated.select(
            "*",
            _rate("promo_conversion_rate", "baseline_conversion_rate").alias("lift"),
            (F.col("promo_conversion_rate") - F.col("baseline_conversion_rate")).alias("uplift"),
        )

    return step


def _tested(min_sessions: int) -> Column:
    """A segment is tested (and ranked) only with enough sessions on both sides and a known city type: a
    rate over a handful of sessions is noise, and `unknown` is no segment one can target."""
    return (
        (F.col("promo_sessions") >= min_sessions)
        & (F.col("baseline_sessions") >= min_sessions)
        & (F.col("city_type") != F.lit(UNKNOWN))
        & F.col("lift").isNotNull()
    )


def response_tests(min_sessions: int) -> Callable[[DataFrame], DataFrame]:
    """z and one-sided p of each tested segment's promo conversion against the other known segments'
    of the same day (pooled two-proportion test); a segment whose comparison has no variance (no
    conversion, or nothing but conversions, on both sides) gets z null and p 1: no evidence."""

    def step(rated: DataFrame) -> DataFrame:
        day = Window.partitionBy("date")
        known = F.col("city_type") != F.lit(UNKNOWN)
        own = {
            "_others_sessions": F.when(known, F.col("promo_sessions")).otherwise(F.lit(0)),
            "_others_conversions": F.when(known, F.col("promo_conversions")).otherwise(F.lit(0)),
        }
        others = rated.select(
            "*", *[(F.sum(v).over(day) - v).alias(name) for name, v in own.items()]
        ).withColumn("others_promo_conversion_rate", _rate("_others_conversions", "_others_sessions"))
        n1, n2 = F.col("promo_sessions"), F.col("_others_sessions")
        tested = _tested(min_sessions)
        comparable = tested & (n2 > 0)  # every division below is guarded (ANSI mode raises on x / 0)
        pooled = F.when(comparable, (F.col("promo_conversions") + F.col("_others_conversions")) / (n1 + n2))
        variance = pooled * (1 - pooled) * F.when(comparable, 1 / n1 + 1 / n2)
        difference = F.col("promo_conversion_rate") - F.col("others_promo_conversion_rate")
        z = F.when(variance > 0, difference / F.sqrt(variance))
        return (
            others.withColumn("z_score", z)
            .withColumn("p_value", F.when(tested, F.coalesce(normal_tail(F.col("z_score")), F.lit(1.0))))
            .drop("_others_sessions", "_others_conversions")
        )

    return step


def false_discovery(fdr: float) -> Callable[[DataFrame], DataFrame]:
    """Benjamini-Hochberg over the segments tested each day: q(i) = min over j >= i of p(j) m / j, for
    the p-values in ascending order (rank i of m); `responsive` where q <= fdr. Untested rows keep nulls."""

    def step(rows: DataFrame) -> DataFrame:
        tested = F.col("p_value").isNotNull()
        family = Window.partitionBy("date", tested)
        order = family.orderBy("p_value", *SEGMENT)
        adjusted = F.col("p_value") * F.count(F.lit(1)).over(family) / F.row_number().over(order)
        down = family.orderBy(F.desc("p_value"), *[F.desc(c) for c in SEGMENT]).rowsBetween(
            Window.unboundedPreceding, Window.currentRow
        )
        return (
            rows.withColumn("_adjusted", adjusted)
            # least() skips nulls: an untested row would get 1.0 without the guard
            .withColumn("q_value", F.when(tested, F.least(F.lit(1.0), F.min("_adjusted").over(down))))
            .withColumn("responsive", F.col("q_value") <= fdr)
            .drop("_adjusted")
        )

    return step


def lift_ranks(rated: DataFrame) -> DataFrame:
    """Ranks the tested segments per day: responsive ones first, each group by lift. Ties share a rank."""
    tested = F.col("p_value").isNotNull()
    rank = F.rank().over(Window.partitionBy("date", tested).orderBy(F.desc("responsive"), F.desc("lift")))
    return rated.withColumn("lift_rank", F.when(tested, rank))


def promo_response(
    days: DayRange, history: DataFrame, window_days: int, min_sessions: int, fdr: float
) -> Callable[[DataFrame], DataFrame]:
    """events (covering `days` widened by `window_days - 1` before) -> promo_response rows for `days`."""

    def transform(events: DataFrame) -> DataFrame:
        return (
            events.transform(segment_days(history))
            .transform(promo_windows(days, window_days))
            .transform(promo_lift(window_days))
            .transform(response_tests(min_sessions))
            .transform(false_discovery(fdr))
            .transform(lift_ranks)
            .select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in SCHEMA])
        )

    return transform
