"""Fairness audit: the churn model's ranking quality per segment (country, age band, city type, plan).

A model can be good on average and poor for one group; the audit computes ROC AUC, churn rate and
mean predicted probability per segment value, and per segment column the largest AUC gap between its
values. Gaps above `models.fairness_max_auc_gap` are flagged in the run and in the job's output.
Values with fewer than `models.fairness_min_segment_size` rows, or with only one class, are reported
but not compared: their AUC is too noisy to call a gap.

A flag alone cannot tell a real gap from the noise of small segments, so each gap carries a 95%
confidence interval: per value, DeLong's standard error of the AUC; for the gap between two disjoint
groups, the root of the sum of their variances. A flagged gap whose interval reaches below the
threshold is marked "may be noise". (The interval is for the pair that is the largest gap; choosing
the extreme pair among many values makes real gaps look somewhat likelier than they are.)

Per-segment AUC and its variance come from one pass for all segment columns: rows are stacked once
per column and, within each (column, value), each row's placement value is computed from window
counts: for a positive, the share of negatives scored below it (ties count half); for a negative,
the share of positives scored above it. The AUC is the mean placement of the positives (exactly the
Mann-Whitney statistic), and DeLong's variance is var(positive placements)/n+ + var(negative
placements)/n-. No evaluator call per segment, no Python per row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

MISSING = "(missing)"
Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


@dataclass(frozen=True)
class SegmentRow:
    segment: str
    value: str
    rows: int
    positives: int
    roc_auc: float
    roc_auc_se: float  # DeLong's standard error (NaN when a class has fewer than two rows)
    churn_rate: float
    mean_score: float
    audited: bool


@dataclass(frozen=True)
class FairnessReport:
    rows: tuple[SegmentRow, ...]
    gaps: dict[str, float]  # segment column -> largest AUC gap among its audited values (NaN: < 2 values)
    threshold: float
    skipped: tuple[str, ...]  # segment columns the data does not have
    gap_ci: dict[str, tuple[float, float]] = field(default_factory=dict)  # 95% CI of each gap

    @property
    def uncertain(self) -> tuple[str, ...]:
        """Flagged segments whose gap's 95% interval reaches below the threshold: the gap may be noise."""
        return tuple(s for s in self.flagged if not self.gap_ci.get(s, (math.nan,))[0] > self.threshold)

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
            if segment in self.uncertain:
                flag += " (may be noise: the 95% CI reaches below the threshold)"
            ci_low, ci_high = self.gap_ci.get(segment, (math.nan, math.nan))
            ci = f", 95% CI {ci_low:.3f}..{ci_high:.3f}" if math.isfinite(ci_low) else ""
            out.append(
                f"{segment}: AUC gap {self.gaps[segment]:.3f}{ci} ({lo.value} {lo.roc_auc:.3f} .. "
                f"{hi.value} {hi.roc_auc:.3f}; threshold {self.threshold}){flag}"
            )
        out += [f"{s}: not in the data, not audited" for s in self.skipped]
        return out

    def csv(self) -> str:
        head = "segment,value,rows,positives,roc_auc,roc_auc_se,churn_rate,mean_score,audited"
        body = [
            f"{r.segment},{r.value},{r.rows},{r.positives},{r.roc_auc:.6f},{r.roc_auc_se:.6f},"
            f"{r.churn_rate:.6f},{r.mean_score:.6f},{r.audited}"
            for r in self.rows
        ]
        return "\n".join([head, *body]) + "\n"


def segment_auc(scored: DataFrame, segments: Sequence[str], score: str, label: str) -> DataFrame:
    """(segment, value, rows, positives, roc_auc, roc_auc_se, churn_rate, mean_score): a row per value."""
    pairs = F.array(
        *[F.struct(F.lit(s).alias("segment"), F.col(s).cast("string").alias("value")) for s in segments]
    )
    stacked = scored.select(
        F.col(score).alias("s"), F.col(label).cast("double").alias("y"), F.explode(pairs).alias("p")
    ).select(
        F.col("p.segment").alias("segment"),
        F.coalesce(F.col("p.value"), F.lit(MISSING)).alias("value"),
        "s",
        "y",
    )
    group = Window.partitionBy("segment", "value")
    upto = group.orderBy("s").rangeBetween(Window.unboundedPreceding, Window.currentRow)
    ties = Window.partitionBy("segment", "value", "s")
    pos, neg = F.col("y"), 1 - F.col("y")
    counted = stacked.select(
        "segment",
        "value",
        "s",
        "y",
        F.sum(pos).over(group).alias("n_pos"),
        F.sum(neg).over(group).alias("n_neg"),
        F.sum(pos).over(upto).alias("pos_upto"),  # positives scored <= s
        F.sum(neg).over(upto).alias("neg_upto"),
        F.sum(pos).over(ties).alias("pos_tied"),  # positives scored == s
        F.sum(neg).over(ties).alias("neg_tied"),
    )
    # Placement: a positive's share of negatives below it, a negative's share of positives above it.
    # NULL for a value whose rows are all of one class (no AUC there; ANSI mode would fail on the 0).
    placement = F.when(
        F.col("y") == 1, F.try_divide(F.col("neg_upto") - F.col("neg_tied") / 2, F.col("n_neg"))
    ).otherwise(F.try_divide(F.col("n_pos") - F.col("pos_upto") + F.col("pos_tied") / 2, F.col("n_pos")))
    agg = (
        counted.select("segment", "value", "s", "y", placement.alias("v"))
        .groupBy("segment", "value")
        .agg(
            F.count(F.lit(1)).alias("rows"),
            F.sum("y").alias("positives"),
            F.avg(F.when(F.col("y") == 1, F.col("v"))).alias("auc"),
            F.var_samp(F.when(F.col("y") == 1, F.col("v"))).alias("var_pos"),
            F.var_samp(F.when(F.col("y") == 0, F.col("v"))).alias("var_neg"),
            F.avg("s").alias("mean_score"),
        )
    )
    negatives = F.col("rows") - F.col("positives")
    both = (F.col("positives") > 0) & (negatives > 0)
    return agg.select(
        "segment",
        "value",
        F.col("rows").cast("long").alias("rows"),
        F.col("positives").cast("long").alias("positives"),
        F.when(both, F.col("auc")).alias("roc_auc"),
        F.when(both, F.sqrt(F.col("var_pos") / F.col("positives") + F.col("var_neg") / negatives)).alias(
            "roc_auc_se"
        ),
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
        se = float("nan") if r["roc_auc_se"] is None else float(r["roc_auc_se"])
        audited = r["rows"] >= min_rows and math.isfinite(auc)
        rows.append(
            SegmentRow(
                r["segment"],
                r["value"],
                int(r["rows"]),
                int(r["positives"]),
                auc,
                se,
                float(r["churn_rate"]),
                float(r["mean_score"]),
                audited,
            )
        )
    gaps, gap_ci = {}, {}
    for s in present:
        audited = [r for r in rows if r.segment == s and r.audited]
        if len(audited) < 2:
            gaps[s] = float("nan")
            continue
        lo, hi = min(audited, key=lambda r: r.roc_auc), max(audited, key=lambda r: r.roc_auc)
        gaps[s] = hi.roc_auc - lo.roc_auc
        half = Z95 * math.sqrt(hi.roc_auc_se**2 + lo.roc_auc_se**2)  # disjoint groups: variances add
        gap_ci[s] = (gaps[s] - half, gaps[s] + half)
    return FairnessReport(tuple(rows), gaps, threshold, skipped, gap_ci)
