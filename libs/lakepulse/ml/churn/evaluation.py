"""The best trial on the test dates: its metrics, the recency baseline, the fairness audit and the plots,
all logged on the training's parent run.

The test dates are evaluated once, for the one model already chosen on validation, so the test metrics
stay an unbiased estimate and `test_roc_auc` can be the champion gate. Nothing here knows the planted
truth of generated data: comparing with it is the tests' and the bench's business (lakepulse_sample).
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakepulse.config import Config
from lakepulse.ml.churn.features import LABEL, SCORE, csv_list
from lakepulse.ml.churn.metrics import (
    binary_metrics,
    calibration,
    curves,
    roc_auc,
    score_histogram,
    with_recency_score,
)
from lakepulse.ml.churn.pipelines import feature_importances
from lakepulse.ml.churn.search import Trial

log = logging.getLogger("lakepulse.ml")


def test_metrics(config: Config, best: Trial, scored: DataFrame) -> tuple[dict[str, float], DataFrame | None]:
    """The test metrics with the validation AUC and the recency baseline; and the baseline's scored rows
    (None without a recency column), which the plots reuse."""
    metrics = binary_metrics(scored, prefix="test_")
    metrics["validation_roc_auc"] = best.validation["validation_roc_auc"]
    recency = config.models.recency_feature
    baseline = None
    if recency in scored.columns:
        baseline = with_recency_score(scored, recency)
        metrics["baseline_recency_roc_auc"] = roc_auc(baseline, "recency_score")
    else:
        log.warning("churn: no column %r for the recency baseline (models.recency_feature)", recency)
    return metrics, baseline


def audit_fairness(scored: DataFrame, config: Config):
    """Audits the test predictions per segment (lakepulse.ml.fairness), tags the run with what it flagged
    and logs its table; returns the report and its metrics, which go out with the test metrics."""
    import mlflow

    from lakepulse.ml import fairness

    report = fairness.audit(
        scored,
        csv_list(config.models.fairness_segments),
        config.models.fairness_min_segment_size,
        config.models.fairness_max_auc_gap,
        SCORE,
        LABEL,
    )
    metrics: dict[str, float] = {}
    for segment, gap in report.gaps.items():
        metrics[f"fairness.{segment}.auc_gap"] = gap
    for segment, (ci_low, ci_high) in report.gap_ci.items():
        metrics[f"fairness.{segment}.auc_gap_ci_low"] = ci_low
        metrics[f"fairness.{segment}.auc_gap_ci_high"] = ci_high
    for r in report.rows:
        if r.audited:
            metrics[f"fairness.{r.segment}.{_metric_key(r.value)}.roc_auc"] = r.roc_auc
    metrics["fairness.largest_auc_gap"] = report.largest_gap
    metrics["fairness.flagged_segments"] = float(len(report.flagged))
    mlflow.set_tag("fairness.flagged", ",".join(report.flagged) or "none")
    mlflow.set_tag("fairness.may_be_noise", ",".join(report.uncertain) or "none")
    mlflow.log_text(report.csv(), "fairness/segments.csv")
    mlflow.log_text("\n".join(report.lines()) + "\n", "fairness/summary.txt")
    return report, metrics


def _metric_key(text: str) -> str:
    """Segment values (a country, a plan) become part of a metric name, and MLflow restricts the
    characters of one; pricing's metric_key is the one rule both models use."""
    from lakepulse.ml.pricing import metric_key

    return metric_key(text)


def log_plots(best: Trial, scored: DataFrame, baseline: DataFrame | None) -> None:
    """ROC and PR curves (with the recency baseline), calibration and feature importance of the test
    predictions, drawn from histograms so that no test row is collected to the driver."""
    import mlflow

    from lakepulse.ml import plots

    histogram = score_histogram(scored)
    model_curves = curves(histogram)
    roc_curves = {f"model ({best.family})": (model_curves["fpr"], model_curves["tpr"])}
    pr_curves = {f"model ({best.family})": (model_curves["recall"], model_curves["precision"])}
    if baseline is not None:
        # Recency in days, mapped to [0, 1) so the same fixed-bin histogram applies.
        days = baseline.withColumn(
            "recency_unit", F.col("recency_score") / (F.col("recency_score") + F.lit(30.0))
        )
        base_curves = curves(score_histogram(days, "recency_unit", bins=400))
        roc_curves["recency baseline"] = (base_curves["fpr"], base_curves["tpr"])
        pr_curves["recency baseline"] = (base_curves["recall"], base_curves["precision"])
    positives = sum(h["pos"] for h in histogram)
    total = positives + sum(h["neg"] for h in histogram)
    for name, fig in (
        ("plots/roc_curve.png", plots.roc_figure(roc_curves, "ROC, test set")),
        (
            "plots/pr_curve.png",
            plots.pr_figure(pr_curves, positives / total if total else 0.0, "PR, test set"),
        ),
    ):
        mlflow.log_figure(fig, name)
        plots.close(fig)
    reliability = calibration(histogram)
    fig = plots.calibration_figure(
        [r["mean_predicted"] for r in reliability],
        [r["observed"] for r in reliability],
        [r["rows"] for r in reliability],
    )
    mlflow.log_figure(fig, "plots/calibration.png")
    plots.close(fig)
    names, values = feature_importances(best.model, scored.schema)
    fig = plots.importance_figure(names, values, f"Feature importance ({best.family})")
    mlflow.log_figure(fig, "plots/feature_importance.png")
    plots.close(fig)
    mlflow.log_dict(dict(zip(names, map(float, values), strict=True)), "feature_importance.json")
