"""A self-contained HTML report: plots of the gold tables a decision maker reads first.

Every figure is reduced in Spark to a few hundred rows at most (per day, per service, per category or
top-N) before it reaches the driver, then drawn with matplotlib and embedded as a base64 PNG, so the
one HTML file can be mailed or archived. A section whose table does not exist yet says so.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from pyspark.sql import DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from lakepulse import delta_io  # noqa: E402
from lakepulse.config import Config  # noqa: E402

MAX_ROWS = 2000  # the largest reduced frame any section brings to the driver


@dataclass(frozen=True)
class Section:
    title: str
    html: str
    plots: int


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _img(fig, alt: str) -> str:
    return f'<img class="plot" alt="{html.escape(alt)}" src="data:image/png;base64,{_png(fig)}">'


def _small(df: DataFrame) -> pd.DataFrame:
    """Bounded collect of an already-reduced frame (the sections aggregate before calling this)."""
    return df.limit(MAX_ROWS).toPandas()


def _table(frame: pd.DataFrame, columns: list[str], digits: int = 3) -> str:
    shown = frame[[c for c in columns if c in frame.columns]].copy()
    return shown.to_html(index=False, float_format=lambda v: f"{v:,.{digits}f}", border=0, classes="data")


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
        "Business KPIs (all customers, by day)", _img(fig, "business KPIs") + _table(last, ["date", *cols]), 1
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
    table = _table(anomalies, ["date", "service", "cost"]) if len(anomalies) else "<p>No anomaly flagged.</p>"
    return Section(
        "Infrastructure cost per service, anomalies in red", _img(fig, "cost per service") + table, 1
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
    return Section(f"Market signals: top emerging searches on {last}", _img(fig, "market signals") + table, 1)


def promo_section(spark: SparkSession, df: DataFrame) -> Section:
    latest = df.agg(F.max("date")).first()[0] if "date" in df.columns else None
    scoped = df.filter(F.col("date") == F.lit(latest)) if latest is not None else df
    top = _small(
        scoped.select("city_type", "weekday", "hour_band", F.col("lift").cast("double").alias("lift"))
        .orderBy(F.col("lift").desc_nulls_last())
        .limit(12)
    )
    fig, ax = plt.subplots(figsize=(7, 3.5))
    labels = (
        top["city_type"].astype(str)
        + " · "
        + top["weekday"].astype(str)
        + " · "
        + top["hour_band"].astype(str)
    )
    ax.barh(labels[::-1], top["lift"][::-1], color="#ff7f0e")
    ax.set_xlabel("promo conversion lift over baseline")
    table = _table(top.head(5), ["city_type", "weekday", "hour_band", "lift"], digits=2)
    return Section("Promo response by segment", _img(fig, "promo lift") + table, 1)


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
        _img(fig, "churn risk") + _table(bands, ["risk_band", "customers"]),
        1,
    )


def pricing_section(spark: SparkSession, recs: DataFrame, elasticities: DataFrame | None) -> Section:
    top = _small(
        recs.select(
            "product_id",
            "category",
            "current_price",
            "recommended_price",
            "price_change_pct",
            "expected_margin_change",
        )
        .orderBy(F.abs("expected_margin_change").desc())
        .limit(20)
    )
    plots = []
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.barh(top["product_id"][::-1], top["price_change_pct"].astype(float)[::-1], color="#9467bd")
    ax.set_xlabel("recommended price change (%)")
    plots.append(_img(fig, "price recommendations"))
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
            plots.append(_img(fig, "elasticities"))
    body = "".join(plots) + _table(top, list(top.columns), digits=2)
    return Section("Pricing: elasticities and recommended prices", body, len(plots))


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
            sections.append(Section(table.replace("_", " "), f"<p>gold/{table} does not exist yet.</p>", 0))
    recs = config.table_path("gold", "price_recommendations")
    el = config.table_path("gold", "price_elasticities")
    if delta_io.is_delta(spark, recs):
        elasticities = delta_io.read_delta(spark, el) if delta_io.is_delta(spark, el) else None
        sections.append(pricing_section(spark, delta_io.read_delta(spark, recs), elasticities))
    plots = sum(s.plots for s in sections)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join(f"<section><h2>{html.escape(s.title)}</h2>{s.html}</section>" for s in sections)
    page = TEMPLATE.format(generated=generated, lake=html.escape(config.paths.lake), body=body, plots=plots)
    return page, plots


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lakepulse report</title>
<style>
body {{ font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
section {{ margin-bottom: 2.5em; }} img.plot {{ max-width: 100%; display: block; margin: .5em 0; }}
table.data {{ border-collapse: collapse; font-size: 13px; }}
table.data td, table.data th {{ padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; }}
</style></head>
<body data-plots="{plots}">
<h1>lakepulse report</h1>
<p>Generated {generated} from the lake at <code>{lake}</code>.</p>
{body}
<script>
  // Marks the page once every plot image has decoded, for people and for the headless-browser test.
  window.addEventListener("load", function () {{
    var imgs = Array.prototype.slice.call(document.querySelectorAll("img.plot"));
    var ok = imgs.filter(function (i) {{ return i.complete && i.naturalWidth > 0; }}).length;
    document.body.setAttribute("data-plots-rendered", String(ok));
  }});
</script>
</body></html>
"""
