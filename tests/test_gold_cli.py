"""The gold jobs' command line and day planning: bad input is one line and a non-zero exit."""

from __future__ import annotations

import datetime as dt

import pytest

from lakepulse.errors import LakepulseError, UsageError
from lakepulse.gold import planner
from lakepulse.gold.planner import DayRange, DayRequest
from tests.conftest import load_job

D = dt.date.fromisoformat


def _main(job: str):
    return load_job(job).main


def test_default_plan_is_every_complete_day_not_yet_computed():
    first, last = D("2026-01-01"), D("2026-01-28")
    assert planner.plan_days(DayRequest(), None, first, last, "t") == DayRange(first, last)
    assert planner.plan_days(DayRequest(), D("2026-01-20"), first, last, "t") == DayRange(
        D("2026-01-21"), last
    )
    assert planner.plan_days(DayRequest(), last, first, last, "t") is None  # up to date


def test_explicit_days_are_recomputed_and_must_be_supported():
    first, last = D("2026-01-01"), D("2026-01-28")
    one = planner.request_from_args("2026-01-05", None, None)
    assert planner.plan_days(one, last, first, last, "t") == DayRange(D("2026-01-05"), D("2026-01-05"))
    open_end = planner.request_from_args(None, "2026-01-10", None)
    assert planner.plan_days(open_end, last, first, last, "t") == DayRange(D("2026-01-10"), last)
    with pytest.raises(
        LakepulseError, match=r"gold/t: days 2026-01-27\.\.2026-02-02 requested, but silver supports"
    ):
        planner.plan_days(planner.request_from_args(None, "2026-01-27", "2026-02-02"), None, first, last, "t")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "2026-13-01"], "--as-of '2026-13-01': expected a date YYYY-MM-DD"),
        (["--as-of", "2026-01-02", "--from", "2026-01-01"], "cannot be combined with --from/--to"),
        (["--from", "2026-01-09", "--to", "2026-01-02"], "--from 2026-01-09 is after --to 2026-01-02"),
        (["--tables", "kpi_daily,nope"], "--tables: unknown table 'nope'"),
    ],
)
def test_bad_arguments_fail_with_one_line(spark, tmp_path, capsys, args, message):
    assert _main("kpis")(["--set", f"paths.home={tmp_path}", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("lakepulse kpis: error:")


def test_missing_silver_fails_with_one_line(spark, tmp_path, capsys):
    assert _main("features")(["--set", f"paths.home={tmp_path}"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "silver/events is missing or empty" in err[0] and "run refine first" in err[0]
    assert not (tmp_path / "lake" / "gold").exists()  # nothing written half-way


def test_request_parsing_is_a_usage_error():
    with pytest.raises(UsageError):
        planner.request_from_args(None, "yesterday", None)
