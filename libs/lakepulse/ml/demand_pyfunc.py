"""The pricing model as MLflow saves it: a self-contained pyfunc, logged as code (MLflow's models from code).

MLflow copies this file into the model and runs it at load time; the coefficients travel next to it
as a JSON artifact (`fits`), read in `load_context`. Nothing is pickled, and this module imports only
numpy, pandas and MLflow, never lakepulse: a registered pricing model loads and predicts anywhere those
three are installed (the model's requirements.txt), with no Spark and no lakepulse
(tests/test_models_portable.py checks it in a fresh virtual environment). lakepulse imports the same
functions for its own predictions (`lakepulse.ml.demand_model`), so the two can never disagree.

A fit is a plain dict (the fields of `lakepulse.ml.demand_model.CategoryFit`): `elasticity`,
`intercept`, `controls` (coefficient per control used), `control_means` (fill for a missing value),
`smearing` (Duan's factor), and descriptive fields the prediction does not read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

import mlflow.models
import mlflow.pyfunc
import numpy as np
import pandas as pd

WEATHER_COLUMNS = ("temp_c", "precipitation_mm")
OUTPUT_COLUMN = "expected_units_per_purchase"


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


def predict_log_units(fits: Mapping[str, Mapping], frame: pd.DataFrame) -> np.ndarray:
    """E[log units per purchase line] per row; NaN for a category without a fit, so a caller can tell
    "no estimate" from a number and leave it out of a metric instead of scoring a guess."""
    frame = frame.reset_index(drop=True)
    out = np.full(len(frame), np.nan)
    for category, part in frame.groupby("category", sort=False):
        fit = fits.get(str(category))
        if fit is None or not math.isfinite(fit["elasticity"]):
            continue
        data = add_controls(part, fit["control_means"])
        value = fit["intercept"] + fit["elasticity"] * data["log_price"].to_numpy(float)
        for name, coef in fit["controls"].items():
            value = value + coef * data[name].to_numpy(float)
        out[part.index.to_numpy()] = value
    return out


def expected_units(fits: Mapping[str, Mapping], model_input: pd.DataFrame) -> pd.DataFrame:
    """The model's output: the mean units per purchase line, exp(E[log units]) times the smearing factor."""
    frame = pd.DataFrame(model_input).reset_index(drop=True)
    frame["log_price"] = np.log(frame["price"].astype(float))
    log_units = predict_log_units(fits, frame)
    smearing = np.array([fits[c]["smearing"] if c in fits else np.nan for c in frame["category"]])
    return pd.DataFrame({OUTPUT_COLUMN: np.exp(log_units) * smearing})


def dumps(fits: Mapping[str, Mapping]) -> str:
    """The fits as the JSON artifact holds them (dates as ISO strings; NaN stays NaN)."""
    return json.dumps(fits, default=str, sort_keys=True, indent=1)


class PortableDemandModel(mlflow.pyfunc.PythonModel):
    """Expected units per purchase line of a category at a price, day of week, promo share and weather.

    `fits` (category -> fit dict) comes from the `fits` artifact when MLflow loads the model.
    """

    def __init__(self, fits: Mapping[str, Mapping] | None = None):
        self.fits = dict(fits or {})

    def load_context(self, context) -> None:
        with open(context.artifacts["fits"], encoding="utf-8") as handle:
            self.fits = json.load(handle)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        del context, params
        return expected_units(self.fits, model_input)


# MLflow runs this file as its own module to load the model; lakepulse imports it for the functions
# above, and then must not replace whatever model MLflow has set.
if __name__ != "lakepulse.ml.demand_pyfunc":
    mlflow.models.set_model(PortableDemandModel())
