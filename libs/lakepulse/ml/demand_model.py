"""The fitted demand curves and the MLflow model that carries them.

Kept apart from the fit (`demand_fit`, which needs statsmodels) and from Spark: this module is what
MLflow unpickles, so loading a registered pricing model needs numpy, pandas and MLflow only.
`DemandModel` is also reachable as `lakepulse.ml.pricing.DemandModel`, the class path that models
registered before the split were pickled with (cloudpickle stores the class by reference).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import mlflow.pyfunc
import numpy as np
import pandas as pd

DOW_COLUMNS = tuple(f"dow_{d}" for d in range(2, 8))  # Sunday (1) is the reference day
WEATHER_COLUMNS = ("temp_c", "precipitation_mm")
CONTROL_COLUMNS = (*DOW_COLUMNS, "promo_share", *WEATHER_COLUMNS)


@dataclass
class CategoryFit:
    category: str
    elasticity: float
    std_error: float
    ci_low: float
    ci_high: float
    r2: float
    n_observations: int
    n_days: int
    first_date: dt.date | None
    last_date: dt.date | None
    intercept: float
    # Coefficient per control actually used (constant controls are dropped), and the controls' means
    # for filling a missing value at prediction time.
    controls: dict[str, float] = field(default_factory=dict)
    control_means: dict[str, float] = field(default_factory=dict)
    # Duan's smearing factor: mean of exp(residual), turning exp(E[log units]) into E[units].
    smearing: float = 1.0

    @property
    def significant(self) -> bool:
        """Only an interval wholly below zero justifies moving a price; a NaN bound never does."""
        return math.isfinite(self.ci_high) and self.ci_high < 0


def add_controls(frame: pd.DataFrame, fill: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Day-of-week dummies (Spark's numbering, 1 = Sunday) and filled promo share and weather.

    A missing value is filled with `fill` (the training means, at prediction time) so a day without a
    weather reading still gets a prediction rather than a NaN; training fills with the data's own mean.
    """
    out = frame.copy()
    for d in range(2, 8):
        out[f"dow_{d}"] = (out["day_of_week"].astype(int) == d).astype(float)
    for name in ("promo_share", *WEATHER_COLUMNS):
        values = out[name].astype(float)
        default = (fill or {}).get(name)
        if default is None or not math.isfinite(default):
            default = float(values.mean()) if values.notna().any() else 0.0
        out[name] = values.fillna(default)
    return out


def predict_log_units(fits: Mapping[str, CategoryFit], frame: pd.DataFrame) -> np.ndarray:
    """E[log units per purchase line] per row; NaN for a category without a fit, so a caller can tell
    "no estimate" from a number and leave it out of a metric instead of scoring a guess."""
    frame = frame.reset_index(drop=True)
    out = np.full(len(frame), np.nan)
    for category, part in frame.groupby("category", sort=False):
        fit = fits.get(str(category))
        if fit is None or not math.isfinite(fit.elasticity):
            continue
        data = add_controls(part, fit.control_means)
        value = fit.intercept + fit.elasticity * data["log_price"].to_numpy(float)
        for name, coef in fit.controls.items():
            value = value + coef * data[name].to_numpy(float)
        out[part.index.to_numpy()] = value
    return out


class DemandModel(mlflow.pyfunc.PythonModel):
    """Expected units per purchase line of a category at a price, day of week, promo share and weather.

    Holds only numbers (per-category coefficients as plain dicts, not `CategoryFit` objects), so the
    pickle references no class but this one and loading it needs no Spark and no statsmodels. `predict`
    returns the mean, not the median: exp(E[log units]) times the fit's smearing factor.
    """

    def __init__(self, fits: Mapping[str, CategoryFit]):
        self.fits = {k: asdict(v) for k, v in fits.items()}

    def category_fits(self) -> dict[str, CategoryFit]:
        return {k: CategoryFit(**v) for k, v in self.fits.items()}

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        del context, params
        frame = pd.DataFrame(model_input).reset_index(drop=True)
        frame["log_price"] = np.log(frame["price"].astype(float))
        fits = self.category_fits()
        log_units = predict_log_units(fits, frame)
        smearing = np.array([fits[c].smearing if c in fits else np.nan for c in frame["category"]])
        return pd.DataFrame({"expected_units_per_purchase": np.exp(log_units) * smearing})


def model_input_example(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's input: category, price, day_of_week (1 = Sunday .. 7), promo_share, weather.

    Callers know prices, not log prices, so the logged signature asks for the price itself.
    """
    return pd.DataFrame(
        {
            "category": frame["category"].astype(str),
            "price": np.exp(frame["log_price"].astype(float)).round(2),
            "day_of_week": frame["day_of_week"].astype("int32"),
            "promo_share": frame["promo_share"].astype(float),
            "temp_c": frame["temp_c"].astype(float),
            "precipitation_mm": frame["precipitation_mm"].astype(float),
        }
    ).reset_index(drop=True)
