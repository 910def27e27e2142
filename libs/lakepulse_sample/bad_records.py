"""Bad input, injected at a configurable rate, each record with exactly one machine-readable defect.

Bad records are corrupted *copies* of good ones (with a fresh event id where the id survives), so the
good data stays complete and the planted truth (elasticities, churn, promo lift) holds for exactly
the records a correct pipeline keeps. Two kinds are not bad but test idempotency and lateness:
re-sent exact duplicates (same line, same folder) and late events (moved 1-3 days later).

The reason names are those of ingestion's quarantine (docs/silver.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakepulse_sample.params import GenerateParams
from lakepulse_sample.randomness import hex_id, index_sql, pick, uniform, uniform_sql

MIN_PER_KIND = 3  # records of each kind even on tiny data, so that every kind is exercised
CANDIDATES = 10  # candidates drawn per guaranteed record: missing the minimum is then practically impossible
ITEM_EVENTS = ("add_to_cart", "purchase")

MALFORMED_JSON = "malformed_json"
UNPARSEABLE_LOG_LINE = "unparseable_log_line"
BAD_SIGNUP_DATE = "bad_type:signup_date"
BAD_TEMPERATURE = "bad_type:temp_c"
CORRUPT_FILE = "corrupt_file"


@dataclass(frozen=True)
class EventDefect:
    reason: str
    eligible: tuple[str, ...] | None  # event types it applies to; None = all
    corrupt: Callable[[GenerateParams, Column], Column]  # the JSON line (already carrying a fresh id) -> bad


def _truncate(p: GenerateParams, line: Column, key: Column, low: float, high: float) -> Column:
    """A proper prefix of the line: never a whole JSON object, never a whole log line."""
    share = low + (high - low) * uniform(p.seed, "truncate_at", key)
    return F.substring(line, F.lit(1), F.greatest(F.lit(8), F.floor(F.length(line) * share).cast("int")))


def _replace(line: Column, pattern: str, replacement: Column) -> Column:
    return F.regexp_replace(line, F.lit(pattern), replacement)


def _future_ts(p: GenerateParams) -> Column:
    days = 2 + F.floor(uniform(p.seed, "future_by", "event_id") * 4)
    future = F.timestamp_millis(F.col("ts_ms") + days.cast("long") * 86_400_000)
    return F.date_format(future, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")


def _bad_value(p: GenerateParams, salt: str, values: tuple[str, ...], key: str = "event_id") -> Column:
    return pick(values, index_sql(uniform_sql(p.seed, salt, key), len(values)))


EVENT_DEFECTS = (
    EventDefect(MALFORMED_JSON, None, lambda p, line: _truncate(p, line, F.col("event_id"), 0.3, 0.8)),
    EventDefect(
        "bad_type:unit_price",
        ITEM_EVENTS,
        lambda p, line: _replace(
            line,
            r'"unit_price":[0-9.]+',
            F.concat(
                F.lit('"unit_price":"'), _bad_value(p, "bad_price", ("abc", "12,99", "N/A")), F.lit('"')
            ),
        ),
    ),
    EventDefect(
        "bad_type:quantity",
        ITEM_EVENTS,
        lambda p, line: _replace(
            line,
            r'"quantity":[0-9]+',
            F.concat(
                F.lit('"quantity":"'), _bad_value(p, "bad_quantity", ("two", "1 pc", "many")), F.lit('"')
            ),
        ),
    ),
    EventDefect(
        "missing_field:customer_id",
        ("purchase",),
        lambda p, line: _replace(line, r',"customer_id":"[^"]*"', F.lit("")),
    ),
    EventDefect(
        "missing_field:event_id", None, lambda p, line: _replace(line, r'^\{"event_id":"[^"]*",', F.lit("{"))
    ),
    EventDefect(
        "negative_price",
        ITEM_EVENTS,
        lambda p, line: _replace(line, r'"unit_price":', F.lit('"unit_price":-')),
    ),
    EventDefect(
        "future_timestamp",
        None,
        lambda p, line: _replace(
            line, r'"event_ts":"[^"]*"', F.concat(F.lit('"event_ts":"'), _future_ts(p), F.lit('"'))
        ),
    ),
    EventDefect(
        "unknown_event_type",
        ("page_view",),
        lambda p, line: _replace(
            line,
            r'"event_type":"page_view"',
            F.concat(
                F.lit('"event_type":"'),
                _bad_value(p, "bad_type", ("wishlist_add", "video_play", "page_veiw")),
                F.lit('"'),
            ),
        ),
    ),
)


@dataclass(frozen=True)
class Draw:
    """One kind of injected record: which rows may get it, the draw that picks them, and at what share."""

    u: Column
    eligible: Column
    share: float
    count: int  # eligible rows (an upper bound is fine)


def thresholds(df: DataFrame, draws: Mapping[str, Draw]) -> dict[str, float]:
    """Per kind, the draw threshold that picks `share` of the eligible rows and never fewer than
    MIN_PER_KIND: the larger of `share` and the MIN_PER_KIND-th smallest draw.

    One small job for all kinds: only draws below CANDIDATES x MIN_PER_KIND / count are collected, a few
    dozen per kind whatever the size of the data.
    """
    active = {kind: d for kind, d in draws.items() if d.share > 0 and d.count > 0}
    if not active:
        return {}
    lows = {kind: min(1.0, CANDIDATES * MIN_PER_KIND / d.count) for kind, d in active.items()}
    aggregates = [
        F.array_sort(F.collect_list(F.when(d.eligible & (d.u < lows[kind]), d.u))).alias(f"k{i}")
        for i, (kind, d) in enumerate(active.items())
    ]
    row = df.agg(*aggregates).first()  # a few dozen doubles per kind
    out = {}
    for i, (kind, d) in enumerate(active.items()):
        smallest = row[f"k{i}"]
        if d.count <= MIN_PER_KIND:
            nth = 1.0
        elif len(smallest) >= MIN_PER_KIND:
            nth = smallest[MIN_PER_KIND - 1]
        else:  # fewer candidates than expected by a factor of ten: take them all
            nth = lows[kind]
        out[kind] = max(d.share, nth)
    return out


def _picked(draw: Draw, limit: float) -> Column:
    return draw.eligible & (draw.u <= limit)


def truncated_day(p: GenerateParams) -> int | None:
    """The day whose smallest events file gets truncated (gzip output with bad records on), or None."""
    return p.days // 2 if p.gzip and p.bad_record_rate > 0 else None


def event_draws(p: GenerateParams, type_counts: Mapping[str, int]) -> dict[str, Draw]:
    """Late arrivals and duplicates at `bad_record_rate`; the defects share it equally.

    Nothing is injected into the day whose file gets truncated (nor late arrivals into it), so that the
    truncation, which hides whole files, never hides the injected records that every kind must show.
    """
    total = sum(type_counts.values())
    rate = p.bad_record_rate
    cut = truncated_day(p)
    day = F.col("day")
    clear = F.lit(True) if cut is None else day != cut
    clear_of_late = (
        F.lit(True) if cut is None else ~day.between(cut - 3, cut)
    )  # late ones arrive <= 3 days on
    draws = {
        "late": Draw(uniform(p.seed, "late", "event_id"), (day < p.days - 1) & clear_of_late, rate, total),
        "duplicate": Draw(uniform(p.seed, "duplicate", "event_id"), clear_of_late, rate, total),
    }
    for d in EVENT_DEFECTS:
        eligible = clear if d.eligible is None else clear & F.col("event_type").isin(*d.eligible)
        count = total if d.eligible is None else sum(type_counts.get(t, 0) for t in d.eligible)
        draws[d.reason] = Draw(
            uniform(p.seed, "bad:" + d.reason, "event_id"), eligible, rate / len(EVENT_DEFECTS), count
        )
    return draws


def event_lines(
    p: GenerateParams, draws: Mapping[str, Draw], limits: Mapping[str, float]
) -> Callable[[DataFrame], DataFrame]:
    """Clean events -> every line of the events feed: (day = arrival folder, file_key, event_day,
    sort_ms, line, reason, kind) with kind one of event | late | duplicate | bad."""

    def flag(kind: str) -> Column:
        return _picked(draws[kind], limits[kind]) if kind in limits else F.lit(False)

    def transform(clean: DataFrame) -> DataFrame:
        late = flag("late")
        late_by = 1 + F.floor(uniform(p.seed, "late_by", "event_id") * 3).cast("int")
        lines = clean.select(
            F.col("event_id").alias("file_key"),
            F.when(late, F.least(F.lit(p.days - 1), F.col("day") + late_by))
            .otherwise(F.col("day"))
            .alias("day"),
            F.col("day").alias("event_day"),
            F.col("ts_ms").alias("sort_ms"),
            "line",
            F.lit(None).cast("string").alias("reason"),
            F.when(late, F.lit("late")).otherwise(F.lit("event")).alias("kind"),
            flag("duplicate").alias("resent"),
        )
        # A re-sent line: the same line again, in the same folder (and file, as files go by event id).
        parts = [
            lines.drop("resent"),
            lines.where("resent").drop("resent").withColumn("kind", F.lit("duplicate")),
        ]
        for defect in EVENT_DEFECTS:
            if defect.reason not in limits:
                continue
            new_id = F.concat(
                F.lit("e-"),
                hex_id(p.seed, "bad_id:" + defect.reason, "event_id"),
                F.lit("-"),
                hex_id(p.seed, "bad_check:" + defect.reason, "event_id", chars=4),
            )
            renamed = _replace(
                F.col("line"), r'^\{"event_id":"[^"]*"', F.concat(F.lit('{"event_id":"'), new_id, F.lit('"'))
            )
            parts.append(
                clean.where(_picked(draws[defect.reason], limits[defect.reason])).select(
                    new_id.alias("file_key"),
                    "day",
                    F.col("day").alias("event_day"),
                    F.col("ts_ms").alias("sort_ms"),
                    defect.corrupt(p, renamed).alias("line"),
                    F.lit(defect.reason).alias("reason"),
                    F.lit("bad").alias("kind"),
                )
            )
        out = parts[0]
        for part in parts[1:]:
            out = out.unionByName(part)
        return out

    return transform


def copy_draw(p: GenerateParams, reason: str, key_columns: tuple[str, ...], total: int) -> dict[str, Draw]:
    """Bad copies of a share `bad_record_rate` of a source's records, drawn by the record's key."""
    key = F.concat_ws("/", *key_columns)
    return {reason: Draw(uniform(p.seed, "bad:" + reason, key), F.lit(True), p.bad_record_rate, total)}


def log_lines(
    p: GenerateParams,
    reason: str,
    key_columns: tuple[str, ...],
    low: float,
    high: float,
    limits: Mapping[str, float],
) -> Callable[[DataFrame], DataFrame]:
    """Log rows (day, ts_ms, line, ...) plus truncated copies of some, as (day, file_key, sort_ms, line,
    reason, kind)."""

    def transform(clean: DataFrame) -> DataFrame:
        good = clean.select(
            F.concat_ws("/", *key_columns).alias("file_key"),
            "day",
            F.col("ts_ms").alias("sort_ms"),
            "line",
            F.lit(None).cast("string").alias("reason"),
            F.lit("event").alias("kind"),
        )
        if reason not in limits:
            return good
        bad = good.where(uniform(p.seed, "bad:" + reason, "file_key") <= limits[reason]).select(
            F.concat("file_key", F.lit("/bad")).alias("file_key"),
            "day",
            "sort_ms",
            _truncate(p, F.col("line"), F.col("file_key"), low, high).alias("line"),
            F.lit(reason).alias("reason"),
            F.lit("bad").alias("kind"),
        )
        return good.unionByName(bad)

    return transform


def csv_rows(
    p: GenerateParams,
    reason: str,
    column: str,
    values: tuple[str, ...],
    key_columns: tuple[str, ...],
    limits: Mapping[str, float],
) -> Callable[[DataFrame], DataFrame]:
    """CSV rows plus copies of a few with `column` replaced by an unparseable value."""

    def transform(clean: DataFrame) -> DataFrame:
        good = clean.withColumns(
            {"file_key": F.concat_ws("/", *key_columns), "reason": F.lit(None).cast("string")}
        )
        if reason not in limits:
            return good
        chosen = good.where(uniform(p.seed, "bad:" + reason, "file_key") <= limits[reason])
        bad = chosen.withColumns(
            {
                column: _bad_value(p, "bad_value:" + reason, values, key="file_key"),
                "reason": F.lit(reason),
                "file_key": F.concat("file_key", F.lit("/bad")),
            }
        )
        return good.unionByName(bad)

    return transform
