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


@dataclass(frozen=True)
class GenerateParams:
    customers: int
    days: int
    start: dt.date
    seed: int
    bad_record_rate: float
    gzip: bool
    files_per_day: int

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
        )
        params.validate()
        return params

    def validate(self) -> None:
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
        return out
