"""Matplotlib figures logged as run artifacts: what a reviewer compares side by side in the MLflow UI.

Every function takes small, already-aggregated data (curve points from binned counts, one row per
category or feature), never a Spark DataFrame, so nothing here can pull a big table to the driver.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # headless: jobs run on servers and in tests

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def roc_figure(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], title: str = "ROC") -> Figure:
    """`curves`: name -> (false positive rates, true positive rates)."""
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, (fpr, tpr) in curves.items():
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(
        xlabel="false positive rate", ylabel="true positive rate", title=title, xlim=(0, 1), ylim=(0, 1.01)
    )
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


def pr_figure(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    base_rate: float,
    title: str = "Precision-recall",
) -> Figure:
    """`curves`: name -> (recalls, precisions); the dotted line is a random ranking (the base rate)."""
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, (recall, precision) in curves.items():
        ax.plot(recall, precision, label=name)
    ax.axhline(base_rate, color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="recall", ylabel="precision", title=title, xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    return fig


def calibration_figure(
    mean_predicted: Sequence[float], observed: Sequence[float], counts: Sequence[int]
) -> Figure:
    """Reliability diagram: observed churn rate against mean predicted probability per score bin."""
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(5, 6), height_ratios=(3, 1), sharex=True)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.plot(mean_predicted, observed, marker="o")
    ax.set(ylabel="observed rate", title="Calibration", xlim=(0, 1), ylim=(0, 1))
    hist.bar(mean_predicted, counts, width=0.05)
    hist.set(xlabel="mean predicted probability", ylabel="rows")
    fig.tight_layout()
    return fig


def importance_figure(names: Sequence[str], values: Sequence[float], title: str, top: int = 20) -> Figure:
    order = np.argsort(np.abs(np.asarray(values, dtype=float)))[::-1][:top][::-1]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(order) + 1.2))
    ax.barh([names[i] for i in order], [values[i] for i in order])
    ax.set(title=title, xlabel="importance")
    fig.tight_layout()
    return fig


def elasticity_figure(
    categories: Sequence[str],
    estimates: Sequence[float],
    ci_low: Sequence[float],
    ci_high: Sequence[float],
) -> Figure:
    """Estimated elasticity per category with its 95% interval."""
    y = np.arange(len(categories))
    est = np.asarray(estimates, dtype=float)
    err = np.vstack([est - np.asarray(ci_low, dtype=float), np.asarray(ci_high, dtype=float) - est])
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(categories) + 1.5))
    ax.errorbar(est, y, xerr=err, fmt="o", capsize=3, label="estimate (95% CI)")
    ax.axvline(-1, color="grey", linestyle=":", linewidth=1)
    ax.set_yticks(y, categories)
    ax.set(xlabel="price elasticity of demand", title="Elasticity per category")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def demand_curves_figure(panels: Sequence[Mapping[str, object]]) -> Figure:
    """One panel per category: log units per purchase (net of the controls) against log price, and the fit.

    Each panel: {"category", "log_price": [...], "adjusted_log_quantity": [...], "intercept", "elasticity"}.
    """
    n = max(len(panels), 1)
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        x = np.asarray(panel["log_price"], dtype=float)
        ax.scatter(x, panel["adjusted_log_quantity"], s=8, alpha=0.6)
        if len(x):
            grid = np.linspace(x.min(), x.max(), 20)
            ax.plot(grid, panel["intercept"] + panel["elasticity"] * grid, color="red")
        ax.set(
            title=f"{panel['category']} (e={panel['elasticity']:.2f})",
            xlabel="log price",
            ylabel="log units per purchase",
        )
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def close(fig: Figure) -> None:
    plt.close(fig)
