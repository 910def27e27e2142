"""The pipeline's closing summary: rows per table, quarantine reasons, the last day's KPIs, champions.

Printed after a `pipeline` run so that a first-time user sees what the lake now holds without opening
a notebook; everything it reads is bounded (row counts, one row per quarantine reason, one KPI row).
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakepulse.config import Config
from lakepulse.runtime import delta_io

# The figures a reader compares champions by (docs/models.md); those a run did not log are left out.
CHAMPION_METRICS = {
    "lakepulse-churn": ("test_roc_auc", "test_pr_auc", "baseline_recency_roc_auc"),
    "lakepulse-pricing": ("test_rmse_log_units", "mean_r2"),
}


def _print_champions(config: Config) -> None:
    from mlflow import MlflowClient

    from lakepulse.ml import registry, tracking

    tracking.setup_mlflow(config)
    client = MlflowClient()
    print("\nChampions (MLflow registry):")
    for name, keys in CHAMPION_METRICS.items():
        version = registry.champion_version(client, name)
        if version is None:
            print(f"  {name:<20}none registered yet")
            continue
        metrics = client.get_run(version.run_id).data.metrics
        shown = ", ".join(f"{k}={metrics[k]:.4f}" for k in keys if k in metrics)
        print(f"  {name:<20}v{version.version} ({registry.CHAMPION})  {shown}")


def print_summary(spark: SparkSession, config: Config) -> None:
    print("\nTables (rows):")
    for layer in ("bronze", "silver", "gold"):
        for path in delta_io.list_tables(spark, f"{config.paths.lake}/{layer}"):
            print(
                f"  {layer}/{path.rstrip('/').rsplit('/', 1)[-1]:<28}{delta_io.read_delta(spark, path).count():>12}"
            )
    quarantine = config.table_path("bronze", "quarantine")
    if delta_io.is_delta(spark, quarantine):
        print("\nQuarantine (source, reason, records):")
        # Bounded collect: one row per (source, reason), a few dozen at most.
        rows = delta_io.read_delta(spark, quarantine).groupBy("source", "reason").agg(F.count("*").alias("n"))
        for r in rows.orderBy("source", "reason").collect():
            print(f"  {r['source']:<14}{r['reason']:<36}{r['n']:>8}")
    kpis = config.table_path("gold", "kpi_daily")
    if delta_io.is_delta(spark, kpis):
        print("\nLast day's KPIs:")
        df = delta_io.read_delta(spark, kpis)
        last = df.agg(F.max("date")).first()[0]
        overall = df.filter(F.col("date") == F.lit(last))
        if "dimension" in df.columns:
            overall = overall.filter(F.col("dimension") == "all")
        for row in overall.limit(1).collect():
            for key, value in row.asDict().items():
                print(f"  {key:<28}{value}")
    _print_champions(config)
    report = Path(config.paths.reports) / "index.html"
    print(f"\nLake:        {config.paths.lake}")
    print(f"Landing:     {config.paths.landing}")
    if report.exists():
        print(f"Report:      {report}")
    print(f"MLflow UI:   make mlflow-ui   (tracking store {config.mlflow.tracking_uri})")
