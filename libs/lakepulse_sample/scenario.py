"""The planted scenario: the few facts a run hides in its data, chosen from the seed on the driver.

Each is a handful of values (one trend, 3-5 cost anomalies, one promo segment), never proportional to
the data, so they are plain Python; the data that carries them is built in Spark. The promo segment,
the trend's category, country and factor and the number of anomalies are generator parameters
(GenerateParams, flags of `generate`), so a test can plant a different truth and check that the gold
tables find that one; unset, the trend and the anomalies are drawn from the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lakepulse_sample import dims
from lakepulse_sample.params import GenerateParams
from lakepulse_sample.randomness import py_uniform

# Flash promos: in the planted segment (by default urban customers on Friday evenings, 18-22 UTC) a
# promo view converts PROMO_LIFT times more often.
PROMO_CONVERSION = 0.06
PROMO_LIFT = 5.0


@dataclass(frozen=True)
class PromoSegment:
    city_type: str
    weekday: int  # Monday = 0
    hours: tuple[int, int]  # session start hour in [start, end), UTC


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
    promo: PromoSegment
    anomalies: tuple[CostAnomaly, ...]
    app_version_day: int  # first day on which mobile and tablet events carry app_version
    last_day: int


def plan_scenario(p: GenerateParams) -> Scenario:
    cats = dims.categories(p.seed)
    category = cats[math.floor(py_uniform(p.seed, "trend_category") * len(cats))]
    if p.trend_category is not None:
        category = next(c for c in cats if c.name == p.trend_category)
    country = (
        p.trend_country
        or dims.COUNTRIES[math.floor(py_uniform(p.seed, "trend_country") * len(dims.COUNTRIES))]
    )
    trend = Trend(category.index, category.name, country, start_day=(p.days * 2) // 5, factor=p.trend_factor)
    promo = PromoSegment(p.promo_city_type, p.promo_weekday, tuple(p.promo_hours))
    return Scenario(
        trend=trend,
        promo=promo,
        anomalies=_anomalies(p),
        app_version_day=(p.days * 3) // 5,
        last_day=p.days - 1,
    )


def _anomalies(p: GenerateParams) -> tuple[CostAnomaly, ...]:
    """Anomalies on distinct days after a warm-up, so that a rolling baseline exists before each one."""
    warmup = min(7, p.days // 3)
    candidates = list(range(warmup, p.days))
    drawn = 3 + math.floor(py_uniform(p.seed, "anomaly_count") * 3)
    count = min(len(candidates), drawn if p.anomalies is None else p.anomalies)
    ranked = sorted(candidates, key=lambda d: py_uniform(p.seed, "anomaly_day", d))
    return tuple(
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
