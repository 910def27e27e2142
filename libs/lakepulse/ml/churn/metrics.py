"""Metrics of a scored churn model, as Spark aggregations.

Test and validation sets can be as large as the lake, so nothing here collects rows: ROC and PR AUC come
from BinaryClassificationEvaluator, log loss, top-decile lift and expected calibration error from
aggregations, and the curves from a 100-bin score histogram (a bounded collect of at most 101 rows).
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakepulse.ml.churn.features import LABEL, SCORE

CURVE_BINS = 100
CALIBRATION_BINS = 10
EPS = 1e-7


def with_recency_score(df: DataFrame, recency: str) -> DataFrame:
    """The baseline's ranking: longer since the last activity ranks higher, never active ranks highest."""
    return df.withColumn("recency_score", F.coalesce(F.col(recency).cast("double"), F.lit(1e9)))


def roc_auc(df: DataFrame, score: str = SCORE, label: str = LABEL) -> float:
    evaluator = BinaryClassificationEvaluator(
        rawPredictionCol=score, labelCol=label, metricName="areaUnderROC"
    )
    return float(evaluator.evaluate(df.select(F.col(score).cast("double").alias(score), F.col(label))))


def pr_auc(df: DataFrame, score: str = SCORE, label: str = LABEL) -> float:
    evaluator = BinaryClassificationEvaluator(
        rawPredictionCol=score, labelCol=label, metricName="areaUnderPR"
    )
    return float(evaluator.evaluate(df.select(F.col(score).cast("double").alias(score), F.col(label))))


def score_histogram(
    df: DataFrame, score: str = SCORE, label: str = LABEL, bins: int = CURVE_BINS
) -> list[dict]:
    """Per score bin (probabilities in [0, 1]): positives, negatives and the sum of scores.

    Bounded collect: at most `bins` + 1 rows whatever the data size.
    """
    b = F.least(F.floor(F.col(score) * bins), F.lit(bins - 1)).cast("int")
    rows = (
        df.groupBy(b.alias("bin"))
        .agg(
            F.sum(F.col(label)).alias("pos"),
            F.sum(1 - F.col(label)).alias("neg"),
            F.sum(F.col(score)).alias("score_sum"),
        )
        .orderBy("bin")
        .collect()
    )
    return [
        {"bin": r["bin"], "pos": float(r["pos"]), "neg": float(r["neg"]), "score_sum": float(r["score_sum"])}
        for r in rows
    ]


def curves(histogram: Sequence[dict]) -> dict[str, list[float]]:
    """ROC and PR points from a score histogram, thresholds from the highest bin down."""
    pos_total = sum(h["pos"] for h in histogram)
    neg_total = sum(h["neg"] for h in histogram)
    tp = fp = 0.0
    fpr, tpr, recall, precision = [0.0], [0.0], [], []
    for h in sorted(histogram, key=lambda r: -r["bin"]):
        tp += h["pos"]
        fp += h["neg"]
        fpr.append(fp / neg_total if neg_total else 0.0)
        tpr.append(tp / pos_total if pos_total else 0.0)
        recall.append(tp / pos_total if pos_total else 0.0)
        precision.append(tp / (tp + fp) if tp + fp else 1.0)
    return {"fpr": fpr, "tpr": tpr, "recall": recall, "precision": precision}


def calibration(histogram: Sequence[dict], bins: int = CALIBRATION_BINS) -> list[dict]:
    """Reliability bins (mean predicted, observed rate, rows), merged from the finer histogram."""
    merged: dict[int, dict] = {}
    fine = max(h["bin"] for h in histogram) + 1 if histogram else CURVE_BINS
    fine = max(fine, CURVE_BINS)
    for h in histogram:
        key = min(h["bin"] * bins // fine, bins - 1)
        m = merged.setdefault(key, {"pos": 0.0, "n": 0.0, "score_sum": 0.0})
        m["pos"] += h["pos"]
        m["n"] += h["pos"] + h["neg"]
        m["score_sum"] += h["score_sum"]
    return [
        {"bin": k, "mean_predicted": m["score_sum"] / m["n"], "observed": m["pos"] / m["n"], "rows": m["n"]}
        for k, m in sorted(merged.items())
        if m["n"] > 0
    ]


def expected_calibration_error(
    df: DataFrame, score: str = SCORE, label: str = LABEL, bins: int = CALIBRATION_BINS
) -> float:
    """Sum over equal-width probability bins of (bin share) x |observed rate - mean predicted|."""
    b = F.least(F.floor(F.col(score) * bins), F.lit(bins - 1))
    per_bin = df.groupBy(b.alias("bin")).agg(
        F.count("*").alias("n"), F.avg(F.col(label)).alias("observed"), F.avg(F.col(score)).alias("predicted")
    )
    total = per_bin.agg(F.sum("n")).first()[0]
    if not total:
        return float("nan")
    value = per_bin.agg(F.sum(F.col("n") * F.abs(F.col("observed") - F.col("predicted")))).first()[0]
    return float(value) / float(total)


def top_decile_lift(df: DataFrame, score: str = SCORE, label: str = LABEL) -> float:
    """Churn rate among the 10% highest scores over the overall churn rate.

    The cut is an approximate 90th percentile (relative error 1e-4); ties at the cut all count as top.
    """
    cut = df.approxQuantile(score, [0.9], 1e-4)
    if not cut:
        return float("nan")
    row = df.agg(
        F.avg(F.col(label)).alias("base"),
        F.avg(F.when(F.col(score) >= F.lit(cut[0]), F.col(label))).alias("top"),
    ).first()
    return float(row["top"]) / float(row["base"]) if row["base"] else float("nan")


def log_loss(df: DataFrame, score: str = SCORE, label: str = LABEL) -> float:
    p = F.least(F.greatest(F.col(score), F.lit(EPS)), F.lit(1 - EPS))
    y = F.col(label)
    return float(df.agg(F.avg(-(y * F.log(p) + (1 - y) * F.log(1 - p)))).first()[0])


def binary_metrics(
    df: DataFrame, score: str = SCORE, label: str = LABEL, prefix: str = ""
) -> dict[str, float]:
    counts = df.agg(F.count("*").alias("n"), F.sum(F.col(label)).alias("pos")).first()
    return {
        f"{prefix}roc_auc": roc_auc(df, score, label),
        f"{prefix}pr_auc": pr_auc(df, score, label),
        f"{prefix}log_loss": log_loss(df, score, label),
        f"{prefix}top_decile_lift": top_decile_lift(df, score, label),
        f"{prefix}calibration_error": expected_calibration_error(df, score, label),
        f"{prefix}rows": float(counts["n"]),
        f"{prefix}churn_rate": float(counts["pos"]) / float(counts["n"]) if counts["n"] else float("nan"),
    }
