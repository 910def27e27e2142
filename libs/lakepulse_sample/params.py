"""The generator's parameters: config section `generate`, then command-line flags, validated once."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from lakepulse.config import GenerateConfig
from lakepulse.errors import UsageError

HORIZON_DAYS = 30  # churn truth looks this many days past the last generated day
MIN_DAYS = 2  # a first day (initial prices) and at least one later day; a week or more shows weekly patterns
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# The planted scenario's parameters (scenario.py), with the sample's values as defaults: they are not in
# the config section `generate` (a product setting) but flags of the generate job and fields here.
SCENARIO_FIELDS = (
    "promo_city_type",
    "promo_weekday",
    "promo_hours",
    "trend_category",
    "trend_country",
    "trend_factor",
    "anomalies",
)


@dataclass(frozen=True)
class GenerateParams:
    customers: int
    days: int
    start: dt.date
    seed: int
    bad_record_rate: float
    gzip: bool
    files_per_day: int
    promo_city_type: str = "urban"
    promo_weekday: int = 4  # Monday = 0: Friday
    promo_hours: tuple[int, int] = (18, 22)  # session start hour in [start, end), UTC
    trend_category: str | None = None  # None: drawn from the seed
    trend_country: str | None = None  # None: drawn from the seed
    trend_factor: float = 3.0  # the trend's search rate on the last day, relative to its start
    anomalies: int | None = None  # cost anomalies; None: 3 to 5, drawn from the seed

    @classmethod
    def from_config(cls, section: GenerateConfig, **overrides: Any) -> GenerateParams:
        """`overrides` with value None are ignored, so argparse defaults can be passed straight in."""
        values = section.model_dump()
        values.update({k: v for k, v in overrides.items() if v is not None})
        start = values["start"]
        if isinstance(start, str):
            try:
                start = dt.date.fromisoformat(start)
            except ValueError:
                raise UsageError(f"generate.start {start!r}: expected a date YYYY-MM-DD") from None
        params = cls(
            customers=values["customers"],
            days=values["days"],
            start=start,
            seed=values["seed"],
            bad_record_rate=float(values["bad_record_rate"]),
            gzip=bool(values["gzip"]),
            files_per_day=values["files_per_day"],
            **_scenario_values(overrides),
        )
        params.validate()
        return params

    def validate(self) -> None:
        self._validate_size()
        self._validate_scenario()

    def _validate_size(self) -> None:
        if not 1 <= self.customers <= 99_999_999:
            raise UsageError(
                f"generate.customers {self.customers}: expected 1..99999999 (ids are C + 8 digits)"
            )
        if self.days < MIN_DAYS:
            raise UsageError(f"generate.days {self.days}: expected at least {MIN_DAYS}")
        if not 0.0 <= self.bad_record_rate <= 0.2:
            raise UsageError(f"generate.bad_record_rate {self.bad_record_rate}: expected a share in 0..0.2")
        if self.files_per_day < 1:
            raise UsageError(f"generate.files_per_day {self.files_per_day}: expected at least 1")
        if not 0 <= self.seed < 2**63:
            raise UsageError(f"generate.seed {self.seed}: expected a non-negative 64-bit integer")

    def _validate_scenario(self) -> None:
        from lakepulse_sample import dims

        city_types = sorted({c.city_type for c in dims.CITIES})
        if self.promo_city_type not in city_types:
            raise UsageError(
                f"promo city type {self.promo_city_type!r}: expected one of {', '.join(city_types)}"
            )
        if not 0 <= self.promo_weekday <= 6:
            raise UsageError(f"promo weekday {self.promo_weekday}: expected 0 (Monday) .. 6 (Sunday)")
        first, end = self.promo_hours
        if not 0 <= first < end <= 24:
            raise UsageError(
                f"promo hours {first}-{end}: expected START-END with 0 <= START < END <= 24 (UTC)"
            )
        names = [c.name for c in dims.CATEGORY_SEEDS]
        if self.trend_category is not None and self.trend_category not in names:
            raise UsageError(f"trend category {self.trend_category!r}: expected one of {', '.join(names)}")
        if self.trend_country is not None and self.trend_country not in dims.COUNTRIES:
            raise UsageError(
                f"trend country {self.trend_country!r}: expected one of {', '.join(dims.COUNTRIES)}"
            )
        if self.trend_factor < 1.0:
            raise UsageError(f"trend factor {self.trend_factor}: expected at least 1 (a surge)")
        if self.anomalies is not None and self.anomalies < 0:
            raise UsageError(f"anomalies {self.anomalies}: expected a count, 0 or more")

    def date(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=day)

    @property
    def end(self) -> dt.date:
        """The last generated day."""
        return self.date(self.days - 1)

    @property
    def start_weekday(self) -> int:
        """Monday = 0, as Python's date.weekday()."""
        return self.start.weekday()

    def as_json(self) -> dict:
        out = dataclasses.asdict(self)
        out["start"] = self.start.isoformat()
        out["promo_hours"] = list(self.promo_hours)
        return out


def _scenario_values(overrides: dict[str, Any]) -> dict[str, Any]:
    """The scenario fields among `overrides` (None: the default), hours as a tuple (JSON gives a list)."""
    values = {k: overrides[k] for k in SCENARIO_FIELDS if overrides.get(k) is not None}
    if "promo_hours" in values:
        values["promo_hours"] = tuple(int(h) for h in values["promo_hours"])
    return values


def parse_promo_segment(text: str) -> dict[str, Any]:
    """`CITY_TYPE/WEEKDAY/START-END` (e.g. `rural/Tuesday/9-12`: hours 9, 10 and 11 UTC) as
    GenerateParams fields; the weekday by name, abbreviation or number (Monday = 0)."""
    try:
        city_type, weekday, hours = text.split("/")
        first, end = (int(h) for h in hours.split("-"))
    except ValueError:
        raise UsageError(
            f"promo segment {text!r}: expected CITY_TYPE/WEEKDAY/START-END, e.g. rural/Tuesday/9-12"
        ) from None
    day = weekday.strip().lower()
    matches = [i for i, name in enumerate(WEEKDAYS) if day and name.lower().startswith(day)]
    if day.isdigit():
        matches = [int(day)]
    if len(matches) != 1:
        raise UsageError(f"promo segment {text!r}: unknown weekday {weekday!r}")
    return {"promo_city_type": city_type.strip(), "promo_weekday": matches[0], "promo_hours": (first, end)}
