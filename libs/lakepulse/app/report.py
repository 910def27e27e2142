"""A self-contained HTML report: plots of the gold tables a decision maker reads first.

Every figure is reduced in Spark to a few hundred rows at most (per day, per service, per category or
top-N) before it reaches the driver, then drawn with matplotlib and embedded as a base64 PNG, so the
one HTML file can be mailed or archived. A section whose table does not exist yet says so.

The page itself is a Jinja2 template shipped inside the package (templates/report.html.j2), so it travels
in the wheel and in the zip spark-submit hands to --py-files; sections hand it plain values, never HTML,
and autoescaping turns whatever the lake holds (a category named `<script>`, a path with `&`) into text.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import io
from collections.abc import Callable
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape  # noqa: E402
from pyspark.sql import DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from lakepulse.config import Config  # noqa: E402
from lakepulse.runtime import delta_io  # noqa: E402

MAX_ROWS = 2000  # the largest reduced frame any section brings to the driver


@dataclass(frozen=True)
class Plot:
    alt: str
    png: str  # base64, embedded as a data: URI so the page needs nothing else


@dataclass(frozen=True)
class Table:
    """Cells already formatted as text: the template only lays them out (and escapes them)."""

    columns: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Section:
    title: str
    plots: list[Plot] = field(default_factory=list)
    table: Table | None = None
    note: str | None = None  # a sentence shown instead of, or after, the table


def _plot(fig, alt: str) -> Plot:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return Plot(alt, base64.b64encode(buffer.getvalue()).decode("ascii"))


def _small(df: DataFrame) -> pd.DataFrame:
    """Bounded collect of an already-reduced frame (the sections aggregate before calling this)."""
    return df.limit(MAX_ROWS).toPandas()


def _table(frame: pd.DataFrame, columns: list[str], digits: int = 3) -> Table:
    """Formats cells as pandas' to_html did before the template (float columns with `digits` and
    thousands separators, NaN as "NaN", anything else as str), so the page reads the same."""
    shown = [c for c in columns if c in frame.columns]

    def cell(value, is_float: bool) -> str:
        if is_float:
            return "NaN" if pd.isna(value) else f"{value:,.{digits}f}"
        return str(value)

    floats = [pd.api.types.is_float_dtype(frame[c]) for c in shown]
    rows = [
        [cell(v, f) for v, f in zip(row, floats, strict=True)]
        for row in frame[shown].itertuples(index=False, name=None)
    ]
    return Table(shown, rows)


def kpi_section(spark: SparkSession, df: DataFrame) -> Section:
    daily = df.filter(F.col("dimension") == "all") if "dimension" in df.columns else df
    wanted = ["active_customers_daily", "conversion_rate", "revenue", "arpu", "churn_rate"]
    cols = [c for c in wanted if c in df.columns]
    frame = _small(daily.select("date", *[F.col(c).cast("double").alias(c) for c in cols]).orderBy("date"))
    fig, axes = plt.subplots(1, len(cols), figsize=(4 * len(cols), 3))
    for ax, col in zip(list(axes) if len(cols) > 1 else [axes], cols, strict=True):
        ax.plot(pd.to_datetime(frame["date"]), frame[col], color="#1f77b4")
        ax.set_title(col.replace("_", " "))
        ax.tick_params(axis="x", rotation=45, labelsize=7)
    last = frame.tail(1)
    return Section(
        "Business KPIs (all customers, by day)", [_plot(fig, "business KPIs")], _table(last, ["date", *cols])
    )


def cost_section(spark: SparkSession, df: DataFrame) -> Section:
    cost = "effective_cost" if "effective_cost" in df.columns else "billed_cost"
    frame = _small(
        df.select(
            "date", "service", F.col(cost).cast("double").alias("cost"), F.col("is_anomaly").cast("boolean")
        ).orderBy("date", "service")
    )
    fig, ax = plt.subplots(figsize=(10, 3.5))
    for service, part in frame.groupby("service"):
        ax.plot(pd.to_datetime(part["date"]), part["cost"], label=service)
    anomalies = frame[frame["is_anomaly"].fillna(False)]
    ax.scatter(pd.to_datetime(anomalies["date"]), anomalies["cost"], color="red", zorder=3, label="anomaly")
    ax.set_ylabel(f"{cost.replace('_', ' ')} per day")
    ax.legend(fontsize=7, ncol=3)
    return Section(
        "Infrastructure cost per service, anomalies in red",
        [_plot(fig, "cost per service")],
        _table(anomalies, ["date", "service", "cost"]) if len(anomalies) else None,
        None if len(anomalies) else "No anomaly flagged.",
    )


def market_section(spark: SparkSession, df: DataFrame) -> Section:
    last = df.agg(F.max("date")).first()[0]
    top = _small(
        df.filter(F.col("date") == F.lit(last))
        .select("category", "country", F.col("trend_score").cast("double").alias("trend_score"))
        .orderBy(F.col("trend_score").desc_nulls_last())
        .limit(10)
    )
    fig, ax = plt.subplots(figsize=(7, 3.5))
    labels = top["category"] + " / " + top["country"]
    ax.barh(labels[::-1], top["trend_score"][::-1], color="#2ca02c")
    ax.set_xlabel("emerging-trend score")
    table = _table(top.head(5), ["category", "country", "trend_score"], digits=2)
    return Section(f"Market signals: top emerging searches on {last}", [_plot(fig, "market signals")], table)


def promo_section(spark: SparkSession, df: DataFrame) -> Section:
    latest = df.agg(F.max("date")).first()[0] if "date" in df.columns else None
    scoped = df.filter(F.col("date") == F.lit(latest)) if latest is not None else df
    top = _small(
        scoped.select("city_type", "weekday", "hour", "lift_rank", F.col("lift").cast("double").alias("lift"))
        .orderBy(F.col("lift_rank").asc_nulls_last(), F.col("lift").desc_nulls_last())
        .limit(12)
    )
    top["hour"] = top["hour"].map(lambda h: f"{int(h):02d}h UTC")
    fig, ax = plt.subplots(figsize=(7, 3.5))
    labels = top["city_type"].astype(str) + " · " + top["weekday"].astype(str) + " · " + top["hour"]
    ax.barh(labels[::-1], top["lift"][::-1], color="#ff7f0e")
    ax.set_xlabel("promo conversion lift over baseline")
    table = _table(top.head(5), ["city_type", "weekday", "hour", "lift"], digits=2)
    return Section("Promo response by segment (responsive segments first)", [_plot(fig, "promo lift")], table)


def churn_section(spark: SparkSession, df: DataFrame) -> Section:
    last = df.agg(F.max("as_of_date")).first()[0]
    snapshot = df.filter(F.col("as_of_date") == F.lit(last))
    buckets = _small(
        snapshot.groupBy((F.floor(F.col("churn_probability") * 20) / 20).alias("bucket"))
        .agg(F.count(F.lit(1)).alias("customers"))
        .orderBy("bucket")
    )
    bands = _small(
        snapshot.groupBy("risk_band").agg(F.count(F.lit(1)).alias("customers")).orderBy("risk_band")
    )
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.bar(buckets["bucket"], buckets["customers"], width=0.045, align="edge", color="#d62728")
    ax.set_xlabel("churn probability")
    ax.set_ylabel("customers")
    return Section(
        f"Churn risk distribution on {last}",
        [_plot(fig, "churn risk")],
        _table(bands, ["risk_band", "customers"]),
    )


def _margin_gain_plot(top) -> Plot:
    """Expected daily margin gain per product, its 95% range as error bars, guardrail-bound in red."""
    shown = top[::-1]
    gain = shown["expected_margin_change"].astype(float)
    err = [
        (gain - shown["expected_margin_change_low"].astype(float)).clip(lower=0),
        (shown["expected_margin_change_high"].astype(float) - gain).clip(lower=0),
    ]
    colours = ["#d62728" if b else "#2ca02c" for b in shown["guardrail_binds"]]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.barh(shown["product_id"], gain, xerr=err, color=colours, capsize=3)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("expected daily margin gain at the recommended price (95% range)")
    ax.set_title("red: held back by the guardrail (the optimum lies beyond it)", fontsize=9)
    return _plot(fig, "expected margin gain")


def pricing_section(spark: SparkSession, recs: DataFrame, elasticities: DataFrame | None) -> Section:
    """What a price change is expected to earn, not the price change itself: the products with the
    largest expected daily margin gain, with its range over the elasticity's interval, and whether the
    guardrail held the price back (then the optimum lies further out and the gain is a floor)."""
    if "guardrail_binds" not in recs.columns:  # written before the ranges existed: no range, no verdict
        recs = recs.select(
            "*",
            F.col("expected_margin_change").alias("expected_margin_change_low"),
            F.col("expected_margin_change").alias("expected_margin_change_high"),
            F.lit(False).alias("guardrail_binds"),
        )
    top = _small(
        recs.select(
            "product_id",
            "category",
            "current_price",
            "recommended_price",
            "price_change_pct",
            "expected_demand_change_pct",
            "expected_margin_change",
            "expected_margin_change_low",
            "expected_margin_change_high",
            "guardrail_binds",
            "reason",
        )
        .orderBy(F.col("expected_margin_change").desc())
        .limit(20)
    )
    plots = [_margin_gain_plot(top)] if len(top) else []
    if elasticities is not None:
        champion = (
            elasticities.filter(F.col("is_champion"))
            if "is_champion" in elasticities.columns
            else elasticities
        )
        el = _small(champion.select("category", "elasticity", "ci_low", "ci_high").orderBy("category"))
        if len(el):
            fig, ax = plt.subplots(figsize=(7, 3))
            err = [el["elasticity"] - el["ci_low"], el["ci_high"] - el["elasticity"]]
            ax.errorbar(el["category"], el["elasticity"], yerr=err, fmt="o", capsize=4)
            ax.axhline(-1, color="grey", linestyle=":")
            ax.set_ylabel("price elasticity (95% CI)")
            plots.append(_plot(fig, "elasticities"))
    return Section(
        "Pricing: expected margin gain of the recommended prices",
        plots,
        _table(top, list(top.columns), digits=2),
    )


SECTIONS: tuple[tuple[str, Callable], ...] = (
    ("kpi_daily", kpi_section),
    ("cost_kpis_daily", cost_section),
    ("market_signals", market_section),
    ("promo_response", promo_section),
    ("churn_scores", churn_section),
)


def build_report(spark: SparkSession, config: Config) -> tuple[str, int]:
    """The report's HTML and its number of plots."""
    sections: list[Section] = []
    for table, build in SECTIONS:
        path = config.table_path("gold", table)
        if delta_io.is_delta(spark, path):
            sections.append(build(spark, delta_io.read_delta(spark, path)))
        else:
            sections.append(Section(table.replace("_", " "), note=f"gold/{table} does not exist yet."))
    recs = config.table_path("gold", "price_recommendations")
    el = config.table_path("gold", "price_elasticities")
    if delta_io.is_delta(spark, recs):
        elasticities = delta_io.read_delta(spark, el) if delta_io.is_delta(spark, el) else None
        sections.append(pricing_section(spark, delta_io.read_delta(spark, recs), elasticities))
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return render_page(sections, lake=config.paths.lake, generated=generated)


@functools.cache
def _environment() -> Environment:
    """PackageLoader reads the template through the package's own importer, so it is found in a source
    checkout, an installed wheel and the zip spark-submit ships (zipimport) alike. StrictUndefined makes a
    misspelt name in the template an error instead of an empty spot on the page."""
    return Environment(
        loader=PackageLoader("lakepulse", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_page(sections: list[Section], lake: str, generated: str) -> tuple[str, int]:
    """Separate from build_report so the page (escaping included) can be checked without Spark."""
    plots = sum(len(s.plots) for s in sections)
    page = (
        _environment()
        .get_template("report.html.j2")
        .render(sections=sections, lake=lake, generated=generated, plots=plots)
    )
    return page, plots
