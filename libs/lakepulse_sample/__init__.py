"""The sample-data kit (the `generate` job): deterministic raw sources with planted truth, following the
landing contract (docs/landing.md). It is not part of the product: nothing in `lakepulse` imports it.

`generate_all` builds every source from `spark.range` and Spark expressions (no UDFs, no data held in
Python), writes them with Spark's writers into `config.landing_path(source)`, injects bad records,
and writes the truth that later jobs are measured against into `<landing>/_truth/`. All counts in
the truth are Spark aggregations over the very rows that were written.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse.config import Config
from lakepulse.errors import LakepulseError
from lakepulse_sample import bad_records, dims, landing, truth
from lakepulse_sample.billing import FOCUS_HEADER, billing_lines
from lakepulse_sample.customers import (
    CUSTOMER_CSV_COLUMNS,
    WINDOW_DAYS,
    churn_truth,
    customer_base,
    customers_feed,
    with_churn,
)
from lakepulse_sample.event_lines import to_events
from lakepulse_sample.events import (
    anonymous_sessions,
    customer_days,
    customer_sessions,
    with_session_plan,
)
from lakepulse_sample.logs import access_requests, app_logs
from lakepulse_sample.params import HORIZON_DAYS, GenerateParams
from lakepulse_sample.prices import (
    PRICE_CSV_COLUMNS,
    category_rises,
    daily_prices,
    price_changes,
    prices_feed,
    with_price_path,
)
from lakepulse_sample.scenario import Scenario, plan_scenario
from lakepulse_sample.weather import WEATHER_CSV_COLUMNS, daily_weather, weather_feed

__all__ = ["SOURCES", "GenerateParams", "generate_all"]

log = logging.getLogger("lakepulse_sample")

SOURCES = ("customers", "events", "prices", "access_logs", "app_logs", "billing", "weather")
BAD_SIGNUP_DATES = ("2026-13-45", "not-a-date", "1/15/2026")
BAD_TEMPERATURES = ("n/a", "hot", "--")


def generate_all(
    spark: SparkSession, config: Config, params: GenerateParams, overwrite: bool = False
) -> dict:
    """Writes all sources and the truth; returns the manifest (also written as _truth/manifest.json)."""
    started = time.monotonic()
    if spark.conf.get("spark.sql.session.timeZone") != "UTC":
        raise LakepulseError("generate needs spark.sql.session.timeZone=UTC (timestamps are written as UTC)")
    root = landing.local_dir(config.paths.landing)
    paths = {s: landing.local_dir(config.landing_path(s)) for s in SOURCES}
    landing.ensure_empty(root, SOURCES, overwrite)
    (root / landing.TRUTH_DIR).mkdir(parents=True)
    run = _Generation(spark, params, plan_scenario(params), root, paths)
    try:
        run.build_world()
        run.write_events()
        run.write_logs_and_billing()
        run.write_csv_sources()
        manifest = run.write_truth()
    finally:
        run.release()
    seconds = time.monotonic() - started
    log.info(
        "generated %s in %.0f s: %s",
        root,
        seconds,
        ", ".join(f"{s}={n}" for s, n in manifest["records"].items()),
    )
    return manifest


@dataclass
class _Generation:
    """One run's state: the world it builds, what it keeps cached, and the counts for the truth."""

    spark: SparkSession
    p: GenerateParams
    scenario: Scenario
    root: Path
    paths: dict[str, Path]
    kept: list[DataFrame] = field(default_factory=list)
    kinds: dict[str, dict[str, int]] = field(default_factory=dict)  # source -> kind -> lines
    bad: dict[str, dict[str, int]] = field(default_factory=dict)  # source -> reason -> lines
    truncated: dict | None = None

    def keep(self, df: DataFrame) -> DataFrame:
        self.kept.append(df)
        return df

    def release(self) -> None:
        for df in self.kept:
            df.unpersist()

    def build_world(self) -> None:
        spark, p = self.spark, self.p
        self.cities = self.keep(dims.cities_df(spark).cache())
        self.products = self.keep(dims.products_df(spark, p.seed).transform(with_price_path(p)).cache())
        self.prices_daily = self.keep(daily_prices(self.products, p).cache())
        self.weather = self.keep(daily_weather(spark, p).cache())
        rises = category_rises(self.products, p.days + HORIZON_DAYS, WINDOW_DAYS)
        # Customers, sessions and events are materialised once: localCheckpoint also cuts their long
        # lineage (the many small queries over them plan in milliseconds, not seconds) and keeps each
        # stage's generated code within the JVM's method size limit.
        self.customers = (
            customer_base(spark, p)
            .transform(with_churn(p, rises))
            .drop("hazard_path", "rises")
            .localCheckpoint()
        )
        sessions = (
            self.customers.transform(customer_days(p, self.weather))
            .transform(customer_sessions(p, self.cities))
            .unionByName(anonymous_sessions(spark, p, self.cities))
            .transform(with_session_plan(p, self.scenario))
            .localCheckpoint()
        )
        self.events = sessions.transform(to_events(p, self.scenario, self.prices_daily)).localCheckpoint()

    def write_events(self) -> None:
        """Events with bad copies, duplicates and late arrivals; then one gzip file is truncated."""
        p, events = self.p, self.events
        type_counts = {
            r["event_type"]: r["count"] for r in events.groupBy("event_type").count().collect()
        }  # <= 9
        draws = bad_records.event_draws(p, type_counts)
        lines = events.transform(bad_records.event_lines(p, draws, bad_records.thresholds(events, draws)))
        staged = self._stage(lines, p.files_per_day, ("sort_ms", "line"))
        landing.write_text(staged, self.paths["events"], ".json", gzip_on=p.gzip)
        self.truncated = _truncate_one(staged, self.paths["events"], self.root, p)
        readable = staged
        if self.truncated is not None:
            cut = (F.col("date") == self.truncated["date"]) & (F.col("pid") == self.truncated["pid"])
            readable = staged.where(~cut)
        self._count("events", readable)

    def write_logs_and_billing(self) -> None:
        """Access logs from the events, application logs from the requests, billing from their counts."""
        requests = self.events.transform(access_requests(self.p)).localCheckpoint()
        self._write_log("access_logs", requests, bad_records.UNPARSEABLE_LOG_LINE, (0.2, 0.6), ".log")
        app = requests.transform(app_logs(self.p)).localCheckpoint()
        self._write_log("app_logs", app, bad_records.MALFORMED_JSON, (0.3, 0.8), ".json")
        per_service = requests.groupBy("service", "day").agg(F.count(F.lit(1)).alias("requests"))
        lines = billing_lines(self.spark, self.p, self.scenario, per_service).select(
            "day",
            "line",
            F.format_string("%05d", "resource_idx").alias("sort_key"),
            F.lit("event").alias("kind"),
            F.lit(None).cast("string").alias("reason"),
        )
        self._count("billing", self._write_with_header(lines, FOCUS_HEADER, self.paths["billing"]))

    def write_csv_sources(self) -> None:
        p = self.p
        feed = customers_feed(self.customers, self.cities, p)
        rows = self._with_bad_copies(
            feed, bad_records.BAD_SIGNUP_DATE, "signup_date", BAD_SIGNUP_DATES, ("customer_id", "updated_at")
        )
        staged = self._stage(rows, p.files_per_day, ("customer_id", "updated_at", *CUSTOMER_CSV_COLUMNS))
        landing.write_csv(staged, self.paths["customers"], CUSTOMER_CSV_COLUMNS)
        self._count("customers", staged)

        changes = prices_feed(price_changes(self.products), p).withColumns(
            {"file_key": F.col("product_id"), "reason": F.lit(None).cast("string"), "kind": F.lit("event")}
        )
        staged = self._stage(changes, 1, PRICE_CSV_COLUMNS)
        landing.write_csv(staged, self.paths["prices"], PRICE_CSV_COLUMNS)
        self._count("prices", staged)

        # weather keeps its `date` column in the file, so it is written as text (see weather_feed)
        weather = self._with_bad_copies(
            weather_feed(self.weather, p), bad_records.BAD_TEMPERATURE, "temp_c", BAD_TEMPERATURES,
            ("date", "country", "city"),
        )  # fmt: skip
        lines = weather.select(
            "day",
            F.concat_ws(",", *WEATHER_CSV_COLUMNS).alias("line"),
            F.concat_ws("/", "file_key", "temp_c").alias("sort_key"),
            "kind",
            "reason",
        )
        self._count(
            "weather", self._write_with_header(lines, ",".join(WEATHER_CSV_COLUMNS), self.paths["weather"])
        )

    def write_truth(self) -> dict:
        truth_dir = self.root / landing.TRUTH_DIR
        truth.write_churn(churn_truth(self.customers, self.p), truth_dir)
        truth.write_planted(truth_dir, self.p, self.scenario)
        bad_truth: dict = {source: self.bad.get(source, {}) for source in SOURCES}
        bad_truth["duplicates"] = self.kinds["events"].get("duplicate", 0)
        bad_truth["late_events"] = self.kinds["events"].get("late", 0)
        bad_truth["truncated_file"] = (
            None
            if self.truncated is None
            else {k: self.truncated[k] for k in ("source", "path", "records", "reason")}
        )
        truth.write_json(truth_dir, "bad_records.json", bad_truth)
        manifest = _manifest(self.p, self.scenario, self.kinds, self.truncated, self.paths)
        truth.write_json(truth_dir, "manifest.json", manifest)
        return manifest

    def _stage(self, rows: DataFrame, files_per_day: int, sort: tuple[str, ...]) -> DataFrame:
        if "date" not in rows.columns:
            rows = landing.with_date(rows, self.p.start)
        return self.keep(landing.stage(self.spark, rows, files_per_day, sort))

    def _count(self, source: str, staged: DataFrame) -> None:
        """Lines per kind (event, late, duplicate, bad) and bad lines per reason, of the rows written."""
        rows = (
            staged.groupBy("kind", "reason").count().collect()
        )  # one row per kind and reason: a dozen at most
        kinds: dict[str, int] = {}
        for r in rows:
            kinds[r["kind"]] = kinds.get(r["kind"], 0) + r["count"]
        self.kinds[source] = kinds
        self.bad[source] = {
            r["reason"]: r["count"] for r in sorted(rows, key=lambda r: r["reason"] or "") if r["reason"]
        }

    def _write_log(
        self, source: str, clean: DataFrame, reason: str, cut: tuple[float, float], ext: str
    ) -> None:
        p, keys = self.p, ("event_id", "service")
        draw = bad_records.copy_draw(p, reason, keys, clean.count())
        limits = bad_records.thresholds(clean, draw)
        rows = clean.transform(bad_records.log_lines(p, reason, keys, *cut, limits))
        staged = self._stage(rows, p.files_per_day, ("sort_ms", "line"))
        landing.write_text(staged, self.paths[source], ext)
        self._count(source, staged)

    def _with_bad_copies(
        self, feed: DataFrame, reason: str, column: str, values: tuple[str, ...], keys: tuple[str, ...]
    ) -> DataFrame:
        draw = bad_records.copy_draw(self.p, reason, keys, feed.count())
        limits = bad_records.thresholds(feed, draw)
        rows = feed.transform(bad_records.csv_rows(self.p, reason, column, values, keys, limits))
        return rows.withColumn(
            "kind", F.when(F.col("reason").isNull(), F.lit("event")).otherwise(F.lit("bad"))
        )

    def _write_with_header(self, lines: DataFrame, header: str, path: Path) -> DataFrame:
        """One text file per day, starting with `header` (the text writer has no header option); returns
        the staged data rows (headers excluded) for counting."""
        headers = self.spark.range(self.p.days).select(
            F.col("id").cast("int").alias("day"), F.lit(header).alias("line"), F.lit("").alias("sort_key"),
            F.lit("header").alias("kind"), F.lit(None).cast("string").alias("reason"),
        )  # fmt: skip
        rows = (
            lines.withColumn("order", F.lit(1))
            .unionByName(headers.withColumn("order", F.lit(0)))
            .withColumn("file_key", F.lit(""))
        )
        staged = self._stage(rows, 1, ("order", "sort_key", "line"))
        landing.write_text(staged, path, ".csv")
        return staged.where(F.col("order") == 1)


def _truncate_one(staged: DataFrame, path: Path, root: Path, p: GenerateParams) -> dict | None:
    """Cuts the smallest events file of the middle day (only for gzip output, and only with bad records on)."""
    day = bad_records.truncated_day(p)
    if day is None:
        return None
    date = p.date(day).isoformat()
    sizes = staged.where(F.col("date") == date).groupBy("pid").count().collect()  # <= one row per partition
    if not sizes:
        return None
    victim = min(sizes, key=lambda r: (r["count"], r["pid"]))
    file = landing.part_file(path, date, victim["pid"])
    landing.truncate_gzip(file, victim["count"])
    return {
        "source": "events",
        "path": str(file.relative_to(root)),
        "records": victim["count"],
        "reason": bad_records.CORRUPT_FILE,
        "date": date,
        "pid": victim["pid"],
    }


def _manifest(p, scenario: Scenario, counts, truncated, paths: dict[str, Path]) -> dict:
    records = {s: sum(counts[s].values()) for s in SOURCES}
    valid = {
        s: counts[s].get("event", 0) + counts[s].get("late", 0) for s in SOURCES
    }  # minus bad, duplicates
    files = {s: sum(1 for f in paths[s].rglob("part-*")) for s in SOURCES}
    return {
        "parameters": p.as_json(),
        "period": {"start": p.start.isoformat(), "end": p.end.isoformat(), "days": p.days},
        "records": records,
        "valid_records": valid,
        "files": files,
        "truncated_file_records": 0 if truncated is None else truncated["records"],
        "churn_horizon_days": HORIZON_DAYS,
        "app_version_from": p.date(scenario.app_version_day).isoformat(),
        "idle_resources": list(dims.IDLE_RESOURCES),
        "demand_multipliers": {
            "weekday_monday_first": list(dims.DOW_QUANTITY),
            "weather": dims.WEATHER_QUANTITY,
            "promo": dims.PROMO_QUANTITY,
            "noise": dims.QUANTITY_NOISE,
        },
    }
