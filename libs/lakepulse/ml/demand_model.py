"""The fitted demand curves, and how lakepulse reads them back out of a registered pricing model.

Kept apart from the fit (`demand_fit`, which needs statsmodels) and from Spark. The prediction itself
is `demand_pyfunc`'s, the self-contained module MLflow saves as the model. The pricing versions logged
before that were pickled by reference to `DemandModel` here, which therefore stays, with the same
fields. `DemandModel` is also reachable as `lakepulse.ml.pricing.DemandModel`, the class path that models
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

from lakepulse.ml import demand_pyfunc

DOW_COLUMNS = tuple(f"dow_{d}" for d in range(2, 8))  # Sunday (1) is the reference day
WEATHER_COLUMNS = demand_pyfunc.WEATHER_COLUMNS
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
    """Day-of-week dummies and filled promo share and weather: the saved model's own rule
    (`demand_pyfunc.add_controls`), so training and every prediction fill alike."""
    return demand_pyfunc.add_controls(frame, fill)


def predict_log_units(fits: Mapping[str, CategoryFit], frame: pd.DataFrame) -> np.ndarray:
    """E[log units per purchase line] per row, NaN for a category without a fit; computed by the
    saved model's own code (`demand_pyfunc`), so lakepulse and a loaded model never disagree."""
    return demand_pyfunc.predict_log_units(fit_dicts(fits), frame)


def fit_dicts(fits: Mapping[str, CategoryFit]) -> dict[str, dict]:
    """The fits as the saved model holds them: plain dicts, no lakepulse class."""
    return {k: asdict(v) for k, v in fits.items()}


def _date(value) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def fits_of(python_model) -> dict[str, CategoryFit]:
    """The fits of a loaded pricing pyfunc (`unwrap_python_model()`): a `PortableDemandModel` (logged as
    code, fits read from JSON) or a `DemandModel` pickled by an earlier lakepulse. A model that is
    neither is an error naming its class."""
    if isinstance(python_model, DemandModel):
        return python_model.category_fits()
    fits = getattr(python_model, "fits", None)
    if not isinstance(fits, Mapping):
        raise TypeError(f"a {type(python_model).__name__} is no lakepulse pricing model")
    return {
        k: CategoryFit(**{**v, "first_date": _date(v["first_date"]), "last_date": _date(v["last_date"])})
        for k, v in fits.items()
    }


class DemandModel(mlflow.pyfunc.PythonModel):
    """Expected units per purchase line of a category at a price, day of week, promo share and weather.

    What lakepulse logged before its pricing model became `demand_pyfunc` (logged as code, loadable
    without lakepulse): kept so the versions registered then, pickled by reference to this class, still
    load; and in-process, the champion as `pricing.load_champion` returns it. Holds only numbers (per-category coefficients as plain dicts, not `CategoryFit` objects), so the
    pickle references no class but this one and loading it needs no Spark and no statsmodels. `predict`
    returns the mean, not the median: exp(E[log units]) times the fit's smearing factor.
    """

    def __init__(self, fits: Mapping[str, CategoryFit]):
        self.fits = {k: asdict(v) for k, v in fits.items()}

    def category_fits(self) -> dict[str, CategoryFit]:
        return {k: CategoryFit(**v) for k, v in self.fits.items()}

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        del context, params
        return demand_pyfunc.expected_units(self.fits, model_input)


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
