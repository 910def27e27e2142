"""Fairness audit: the churn model's ranking quality per segment (country, age band, city type, plan).

A model can be good on average and poor for one group; the audit computes ROC AUC, churn rate and
mean predicted probability per segment value, and per segment column the largest AUC gap between its
values. Gaps above `models.fairness_max_auc_gap` are flagged in the run and in the job's output.
Values with fewer than `models.fairness_min_segment_size` rows, or with only one class, are reported
but not compared: their AUC is too noisy to call a gap.

Per-segment AUC comes from one pass for all segment columns: rows are stacked once per column, ranked
by score within each (column, value) with ties given their average rank, and the Mann-Whitney
statistic (sum of positive ranks - n+(n+ + 1)/2) / (n+ n-) is aggregated. That is the exact AUC, with
no evaluator call per segment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

MISSING = "(missing)"


@dataclass(frozen=True)
class SegmentRow:
    segment: str
    value: str
    rows: int
    positives: int
    roc_auc: float
    churn_rate: float
    mean_score: float
    audited: bool


@dataclass(frozen=True)
class FairnessReport:
    rows: tuple[SegmentRow, ...]
    gaps: dict[str, float]  # segment column -> largest AUC gap among its audited values (NaN: < 2 values)
    threshold: float
    skipped: tuple[str, ...]  # segment columns the data does not have

    @property
    def flagged(self) -> tuple[str, ...]:
        return tuple(s for s, gap in sorted(self.gaps.items()) if math.isfinite(gap) and gap > self.threshold)

    @property
    def largest_gap(self) -> float:
        finite = [g for g in self.gaps.values() if math.isfinite(g)]
        return max(finite) if finite else float("nan")

    def lines(self) -> list[str]:
        out = []
        for segment in sorted(self.gaps):
            audited = [r for r in self.rows if r.segment == segment and r.audited]
            if not audited:
                out.append(f"{segment}: no segment with enough rows of both classes")
                continue
            lo = min(audited, key=lambda r: r.roc_auc)
            hi = max(audited, key=lambda r: r.roc_auc)
            flag = "  FLAGGED" if segment in self.flagged else ""
            out.append(
                f"{segment}: AUC gap {self.gaps[segment]:.3f} ({lo.value} {lo.roc_auc:.3f} .. "
                f"{hi.value} {hi.roc_auc:.3f}; threshold {self.threshold}){flag}"
            )
        out += [f"{s}: not in the data, not audited" for s in self.skipped]
        return out

    def csv(self) -> str:
        head = "segment,value,rows,positives,roc_auc,churn_rate,mean_score,audited"
        body = [
            f"{r.segment},{r.value},{r.rows},{r.positives},{r.roc_auc:.6f},{r.churn_rate:.6f},{r.mean_score:.6f},{r.audited}"
            for r in self.rows
        ]
        return "\n".join([head, *body]) + "\n"


def segment_auc(scored: DataFrame, segments: Sequence[str], score: str, label: str) -> DataFrame:
    """(segment, value, rows, positives, roc_auc, churn_rate, mean_score): one row per segment value."""
    pairs = F.array(
        *[F.struct(F.lit(s).alias("segment"), F.col(s).cast("string").alias("value")) for s in segments]
    )
    stacked = scored.select(
        F.col(score).alias("s"), F.col(label).alias("y"), F.explode(pairs).alias("p")
    ).select(
        F.col("p.segment").alias("segment"),
        F.coalesce(F.col("p.value"), F.lit(MISSING)).alias("value"),
        "s",
        "y",
    )
    group = Window.partitionBy("segment", "value")
    ties = Window.partitionBy("segment", "value", "s")
    ranked = stacked.select(
        "*", (F.rank().over(group.orderBy("s")) + (F.count(F.lit(1)).over(ties) - 1) / 2.0).alias("rank")
    )
    agg = ranked.groupBy("segment", "value").agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum("y").alias("positives"),
        F.sum(F.when(F.col("y") == 1, F.col("rank"))).alias("positive_rank_sum"),
        F.avg("s").alias("mean_score"),
    )
    negatives = F.col("rows") - F.col("positives")
    auc = (F.col("positive_rank_sum") - F.col("positives") * (F.col("positives") + 1) / 2) / (
        F.col("positives") * negatives
    )
    return agg.select(
        "segment",
        "value",
        F.col("rows").cast("long").alias("rows"),
        F.col("positives").cast("long").alias("positives"),
        F.when((F.col("positives") > 0) & (negatives > 0), auc).alias("roc_auc"),
        (F.col("positives") / F.col("rows")).alias("churn_rate"),
        "mean_score",
    )


def audit(
    scored: DataFrame, segments: Sequence[str], min_rows: int, threshold: float, score: str, label: str
) -> FairnessReport:
    present = [s for s in segments if s in scored.columns]
    skipped = tuple(s for s in segments if s not in scored.columns)
    if not present:
        return FairnessReport((), {}, threshold, skipped)
    # Bounded collect: one row per segment value (a few dozen).
    collected = segment_auc(scored, present, score, label).orderBy("segment", "value").collect()
    rows = []
    for r in collected:
        auc = float("nan") if r["roc_auc"] is None else float(r["roc_auc"])
        audited = r["rows"] >= min_rows and math.isfinite(auc)
        rows.append(
            SegmentRow(
                r["segment"],
                r["value"],
                int(r["rows"]),
                int(r["positives"]),
                auc,
                float(r["churn_rate"]),
                float(r["mean_score"]),
                audited,
            )
        )
    gaps = {}
    for s in present:
        aucs = [r.roc_auc for r in rows if r.segment == s and r.audited]
        gaps[s] = max(aucs) - min(aucs) if len(aucs) >= 2 else float("nan")
    return FairnessReport(tuple(rows), gaps, threshold, skipped)
