"""The bench's datasets end before the day it runs: ingestion quarantines future records."""

from __future__ import annotations

import datetime as dt

import pytest

from bench.run import dataset_start


@pytest.mark.parametrize(
    ("days", "today", "start"),
    [
        (120, dt.date(2026, 12, 3), "2026-01-01"),  # ends 2026-04-30: the usual first day
        (366, dt.date(2026, 12, 3), "2025-01-01"),  # from 2026-01-01 it would end on 2027-01-01
        (366, dt.date(2027, 1, 2), "2026-01-01"),  # ends 2027-01-01, the day before
        (2, dt.date(2026, 1, 3), "2026-01-01"),
    ],
)
def test_a_dataset_ends_before_the_run_day(days, today, start):
    assert dataset_start(days, today) == start
    last = dt.date.fromisoformat(start) + dt.timedelta(days=days - 1)
    assert last < today
