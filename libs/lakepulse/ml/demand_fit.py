"""The log-log demand fit per category (driver, statsmodels), and how it is judged.

Per category, weighted least squares of log(units per purchase line) on log(price), day-of-week
dummies, promo share, mean temperature and precipitation, each product-day weighted by its number of
lines: a mean over more lines is less noisy, and its variance shrinks with 1 / lines, so the lines are
the inverse-variance weights `statsmodels.api.WLS` expects. The log-price coefficient is the
elasticity; its standard error is the classical (non-robust) one, sigma^2 (X'WX)^-1 with sigma^2 the
weighted residual sum of squares over n - k, and the 95% interval uses Student's t with n - k degrees
of freedom (WLS's defaults). The dependent variable is the intensive margin (how much a purchase
takes): the number of purchase lines is mostly driven by traffic, and at a product-day grain its count
noise would swamp the price signal. The price effect is identified from price changes over time and
from price differences between a category's products (docs/models.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm

from lakepulse.errors import LakepulseError
from lakepulse.ml.demand_model import (
    CONTROL_COLUMNS,
    WEATHER_COLUMNS,
    CategoryFit,
    add_controls,
    predict_log_units,
)

CONFIDENCE = 0.95
MIN_FIT_DAYS = 10


def with_demand(frame: pd.DataFrame) -> pd.DataFrame:
    """Product-days that bought something: a log of zero units has no place in a log-log model."""
    return frame[(frame["quantity"] > 0) & (frame["purchases"] > 0)]


def log_units_per_line(frame: pd.DataFrame) -> pd.Series:
    """The dependent variable: units per line, so traffic (the number of lines) drops out of it."""
    return np.log(frame["quantity"].astype(float) / frame["purchases"].astype(float))


def design_matrix(data: pd.DataFrame, controls: Sequence[str]) -> pd.DataFrame:
    """Intercept, log price and the controls, named so the fit's results can be read by name."""
    columns = {"intercept": 1.0, "log_price": data["log_price"].astype(float)}
    columns.update({c: data[c].astype(float) for c in controls})
    return pd.DataFrame(columns, index=data.index)


def identifiable(data: pd.DataFrame, x: pd.DataFrame) -> bool:
    """Whether the elasticity has a unique estimate with at least one residual degree of freedom.

    Checked before fitting because WLS would otherwise answer a rank-deficient design with a
    pseudo-inverse solution, a number that looks like an estimate but is not one.
    """
    n, k = x.shape
    return (
        n > 0 and data["log_price"].nunique() >= 2 and n - k >= 1 and np.linalg.matrix_rank(x.to_numpy()) == k
    )


def _nan_fit(category: str, n: int) -> CategoryFit:
    nan = float("nan")
    return CategoryFit(category, nan, nan, nan, nan, nan, n, 0, None, None, nan)


def fit_category(category: str, frame: pd.DataFrame) -> CategoryFit:
    """One category's demand curve; NaN figures when its data cannot identify one.

    A control constant within the category (a promo never used, no weather table) is dropped rather
    than left to make the design singular.
    """
    data = add_controls(with_demand(frame))
    n = len(data)
    controls = [c for c in CONTROL_COLUMNS if n and data[c].nunique() > 1]
    x = design_matrix(data, controls)
    if not identifiable(data, x):
        return _nan_fit(category, n)
    weights = data["purchases"].to_numpy(float)
    result = sm.WLS(log_units_per_line(data), x, weights=weights, hasconst=True).fit()
    ci_low, ci_high = (float(b) for b in result.conf_int(alpha=1 - CONFIDENCE).loc["log_price"])
    coef = {name: float(b) for name, b in result.params.items()}
    return CategoryFit(
        category=category,
        elasticity=coef["log_price"],
        std_error=float(result.bse["log_price"]),
        ci_low=ci_low,
        ci_high=ci_high,
        r2=float(result.rsquared) if result.centered_tss > 0 else float("nan"),
        n_observations=n,
        n_days=int(data["date"].nunique()),
        first_date=min(data["date"]),
        last_date=max(data["date"]),
        intercept=coef["intercept"],
        controls={c: coef[c] for c in controls},
        control_means={c: float(data[c].mean()) for c in ("promo_share", *WEATHER_COLUMNS)},
        smearing=float(np.average(np.exp(result.resid.to_numpy(float)), weights=weights)),
    )


def fit_all(frame: pd.DataFrame) -> dict[str, CategoryFit]:
    """One fit per category: a category's products share one elasticity, so price differences
    between them identify it alongside each product's price changes over time."""
    return {str(c): fit_category(str(c), part) for c, part in frame.groupby("category", sort=True)}


def holdout_split(frame: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The latest `fraction` of days held out, whole days for every category at once.

    Held out by time, not at random: the model will be used on days after the ones it saw, and
    neighbouring days share price levels that a random split would leak into the test.
    """
    days = sorted(frame["date"].unique())
    n_test = max(1, int(round(len(days) * fraction)))
    if len(days) - n_test < MIN_FIT_DAYS:
        raise LakepulseError(
            f"pricing: only {len(days)} days of demand; the holdout of {n_test} (models.demand_holdout_fraction) "
            f"leaves fewer than {MIN_FIT_DAYS} days to fit on"
        )
    cut = days[-n_test]
    return frame[frame["date"] < cut], frame[frame["date"] >= cut]


def holdout_rmse(fits: Mapping[str, CategoryFit], test: pd.DataFrame) -> float:
    """Line-weighted RMSE of log units per line over the held-out product-days with a prediction.

    Weighted like the fit, so the champion metric judges the model on the loss it minimises; NaN
    (never a champion) when no held-out row has a prediction.
    """
    test = with_demand(test).reset_index(drop=True)
    predicted = predict_log_units(fits, test)
    actual = log_units_per_line(test).to_numpy(float)
    ok = np.isfinite(predicted)
    if not ok.any():
        return float("nan")
    w = test["purchases"].to_numpy(float)[ok]
    return float(np.sqrt(np.average((actual[ok] - predicted[ok]) ** 2, weights=w)))


def summarize(fits: Mapping[str, CategoryFit], sequence: Sequence[str] | None = None) -> list[str]:
    """One line per category for the job's output, interval included: an estimate without its
    uncertainty invites reading noise as a finding."""
    lines = []
    for c in sequence or sorted(fits):
        f = fits[c]
        lines.append(
            f"{c:<18} e={f.elasticity:7.3f}  95% CI [{f.ci_low:7.3f}, {f.ci_high:7.3f}]  R2={f.r2:5.3f}  product-days={f.n_observations}"
        )
    return lines


def demand_panel(frame: pd.DataFrame, fit: CategoryFit) -> dict[str, object]:
    """Log units per purchase net of the fitted controls, for one category's plot panel.

    Net of the controls, so the points scatter around the fitted line and show the price effect alone.
    """
    part = with_demand(frame[frame["category"] == fit.category])
    data = add_controls(part, fit.control_means)
    adjusted = log_units_per_line(data).to_numpy(float)
    for name, coef in fit.controls.items():
        adjusted = adjusted - coef * data[name].to_numpy(float)
    return {
        "category": fit.category,
        "log_price": data["log_price"].to_numpy(float),
        "adjusted_log_quantity": adjusted,
        "intercept": fit.intercept,
        "elasticity": fit.elasticity,
    }
