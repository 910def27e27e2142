"""The planted scenario: the few facts a run hides in its data, chosen from the seed on the driver.

Each is a handful of values (one trend, 3-5 cost anomalies, one promo segment), never proportional to
the data, so they are plain Python; the data that carries them is built in Spark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lakepulse_sample import dims
from lakepulse_sample.params import GenerateParams
from lakepulse_sample.randomness import py_uniform

# Flash promos: urban customers on Friday evenings convert PROMO_LIFT times more often.
PROMO_CONVERSION = 0.06
PROMO_LIFT = 5.0
SEGMENT_CITY_TYPE = "urban"
SEGMENT_WEEKDAY = 4  # Friday (Monday = 0)
SEGMENT_HOURS = (18, 22)  # session start hour in [18, 22), UTC


@dataclass(frozen=True)
class Trend:
    category_idx: int
    category: str
    country: str
    start_day: int
    factor: float  # multiplier of that category's search rate in that country on the last day


@dataclass(frozen=True)
class CostAnomaly:
    service: str
    day: int
    factor: float


@dataclass(frozen=True)
class Scenario:
    trend: Trend
    anomalies: tuple[CostAnomaly, ...]
    app_version_day: int  # first day on which mobile and tablet events carry app_version
    last_day: int


def plan_scenario(p: GenerateParams) -> Scenario:
    cats = dims.categories(p.seed)
    category = cats[math.floor(py_uniform(p.seed, "trend_category") * len(cats))]
    country = dims.COUNTRIES[math.floor(py_uniform(p.seed, "trend_country") * len(dims.COUNTRIES))]
    trend = Trend(category.index, category.name, country, start_day=(p.days * 2) // 5, factor=3.0)

    # Anomalies on distinct days after a warm-up, so that a rolling baseline exists before each one.
    warmup = min(7, p.days // 3)
    candidates = list(range(warmup, p.days))
    count = min(len(candidates), 3 + math.floor(py_uniform(p.seed, "anomaly_count") * 3))
    ranked = sorted(candidates, key=lambda d: py_uniform(p.seed, "anomaly_day", d))
    anomalies = tuple(
        sorted(
            (
                CostAnomaly(
                    service=dims.SERVICE_NAMES[
                        math.floor(py_uniform(p.seed, "anomaly_service", d) * len(dims.SERVICES))
                    ],
                    day=d,
                    factor=round(3.0 + 3.0 * py_uniform(p.seed, "anomaly_factor", d), 2),
                )
                for d in ranked[:count]
            ),
            key=lambda a: a.day,
        )
    )
    return Scenario(trend=trend, anomalies=anomalies, app_version_day=(p.days * 3) // 5, last_day=p.days - 1)
