"""How much a generation will write, worked out before it runs from the generator's own parameters.

A user sizing a test wants "10 million events", not customers x days, and wants to know the disk it
takes before waiting for it. The expected volume is derived from the constants the generator draws
with (events.py, customers.py, logs.py, bad_records.py, dims.py), not fitted, so it follows them when
they change:

- customer days (plan_customers.py): customers signed up before the period are there from day 0, those who sign up
  during it (SIGNUPS_PER_DAY) from their signup day; churn ends a customer's days. The churn hazard
  is the generator's (plan, engagement, tenure, tickets in the last 14 days, price rises in the
  favourite category), with tickets and price rises at their expected counts, integrated over the
  engagement draw (Gauss-Hermite nodes: engagement moves both activity and hazard, in opposite
  directions) and over signup days; the 14 days before a churn lose activity as the generator plans.
- sessions per customer day: the capped geometric count of mean SESSIONS_PER_DAY x engagement x
  weekday x the weather's expected activity (season and wet days per city); signup and ticket days
  have at least one session; the churn day holds only the cancel session (page view + cancel).
- events per session: the expected counts of each slot type (page views, searches, the planted
  search trend, promo views, cart items, checkouts, purchases); anonymous visitors add
  ANONYMOUS_SESSIONS per customer per day of page views, searches and promo views.
- injected lines: duplicates and each defect's bad copies at `bad_record_rate` of what they may
  apply to, never fewer than MIN_PER_KIND; logs: each event type's services, sampled at LOG_SAMPLE,
  application logs at APP_LOG_SAMPLE plus every 4xx/5xx; billing: one line per resource and day.

What is not derived is the size of a line on disk: BYTES_PER_LINE was measured on a generation.

Accuracy (seed 42): for 20,000 customers x 120 days the customer days, sessions, tickets and churns
are within 1.1% of Spark's own `customer_days` rows. A real generation of a few hundred customers
differs more, because its customers' engagement draws do (a customer's activity varies by about 50%
around the mean): 400 x 14 wrote 1.6% more events than estimated, 300 x 120 4.4% fewer and 765 x 120
(`--events 200000`) 3.5% fewer; logs and bytes follow the events within a point. Pure Python (numpy
for the arithmetic), no Spark: fast enough to run on every generate and inside the search for the
number of customers that gives a target number of events.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from lakepulse_sample import bad_records, customers, dims, events, logs
from lakepulse_sample.params import GenerateParams
from lakepulse_sample.plan_customers import MAX_CHANGE_RATE, capped_mean, customer_paths
from lakepulse_sample.scenario import PROMO_CONVERSION, PROMO_LIFT, plan_scenario

MAX_CUSTOMERS = 99_999_999  # as GenerateParams.validate
# the caps of the generator's count() draws (sessions: plan_customers.SESSION_CAP)
PAGE_VIEW_CAP, SEARCH_CAP, TREND_CAP, CART_CAP = 15, 10, 6, 8
# Literals the generator writes inline rather than as named constants (kept in step by hand):
CLOUDY_DRY_DAYS = 0.45  # weather.py: dry days that are cloudy (the rest sunny)
SNOW_BELOW_C, TEMP_NOISE_C = 1.0, 3.0  # weather.py: wet days below 1 C snow; temperature noise (sd)
# Bytes per line on disk, measured on a generation of 400 customers x 14 days (seed 42): events as
# Spark's gzip writes them (6.2x smaller than the 247 bytes of a JSON line; the ratio moved by 2% for
# files of 500 to 15,000 lines), the others plain text; CSV headers are spread over the lines, except
# billing's and weather's (one per file, counted as a line). `truth` is per customer (_truth/churn.csv).
BYTES_PER_LINE = {
    "events_gzip": 40.0,
    "events_plain": 247.0,
    "access_logs": 240.0,
    "app_logs": 196.0,
    "billing": 774.0,
    "customers": 129.0,
    "prices": 46.0,
    "weather": 36.0,
    "truth": 32.0,
}


@dataclass(frozen=True)
class Plan:
    """The expected volume of one generation (line counts as the manifest's `records`, except that
    the deliberately truncated events file is counted whole: its lines were written)."""

    customers: int
    days: int
    events: int
    access_log_lines: int
    app_log_lines: int
    billing_lines: int
    other_lines: int  # customers, prices and weather CSV rows
    bytes: int

    def summary(self, landing: str = "landing/") -> str:
        return (
            f"generate: about {self.events:,} events (+{_short(self.access_log_lines)} access-log lines, "
            f"{_short(self.app_log_lines)} app-log lines, {_short(self.billing_lines)} billing lines) "
            f"for {self.customers:,} customers x {self.days} days, about {_bytes(self.bytes)} in {landing}"
        )


def estimate(p: GenerateParams) -> Plan:
    """The expected volume of generating with `p`."""
    return _plan(p, _per_customer(p))


def customers_for_events(target: int, p: GenerateParams) -> int:
    """The fewest customers (with `p`'s days, start, seed and rates) whose estimate reaches `target`
    events; MAX_CUSTOMERS + 1 when even the largest allowed base falls short (validate says so)."""
    rates = _per_customer(p)
    low, high = 1, MAX_CUSTOMERS + 1
    while low < high:
        mid = (low + high) // 2
        if _plan(dataclasses.replace(p, customers=mid), rates).events >= target:
            high = mid
        else:
            low = mid + 1
    return low


def _plan(p: GenerateParams, per_customer: Mapping[str, float]) -> Plan:
    anonymous = max(1, round(events.ANONYMOUS_SESSIONS * p.customers)) * p.days
    clean = {
        t: p.customers * per_customer[t] + anonymous * per_customer["anon:" + t] for t in dims.EVENT_TYPES
    }
    event_lines = sum(clean.values()) + _injected_event_lines(p, clean)
    services = {s.name: 0.0 for s in dims.SERVICES}
    for event_type, count in clean.items():
        for service in dims.EVENT_SERVICES[event_type]:
            services[service] += logs.LOG_SAMPLE * count
    failed = {s.name: s.error_rate + logs.CLIENT_ERRORS for s in dims.SERVICES}  # every 4xx/5xx is kept
    app = sum(n * (failed[s] + (1 - failed[s]) * logs.APP_LOG_SAMPLE) for s, n in services.items())
    access = _with_copies(p, sum(services.values()))
    app = _with_copies(p, app)
    billing = len(dims.RESOURCES) * p.days
    other = _other_lines(p)
    per_line = BYTES_PER_LINE
    size = (
        event_lines * per_line["events_gzip" if p.gzip else "events_plain"]
        + access * per_line["access_logs"]
        + app * per_line["app_logs"]
        + (billing + p.days) * per_line["billing"]  # + one header per file
        + sum(n * per_line[source] for source, n in other.items())
        + p.customers * per_line["truth"]
    )
    return Plan(
        customers=p.customers,
        days=p.days,
        events=round(event_lines),
        access_log_lines=round(access),
        app_log_lines=round(app),
        billing_lines=billing,
        other_lines=round(sum(other.values())),
        bytes=round(size),
    )


def _share(rate: float, count: float) -> float:
    """Injected copies of one kind: a share `rate` of the `count` lines it may copy, at least MIN_PER_KIND."""
    if rate <= 0 or count <= 0:
        return 0.0
    return min(count, max(float(bad_records.MIN_PER_KIND), rate * count))


def _with_copies(p: GenerateParams, lines: float) -> float:
    return lines + _share(p.bad_record_rate, lines)


def _injected_event_lines(p: GenerateParams, clean: Mapping[str, float]) -> float:
    """Duplicates and bad copies (late events move, they add nothing); none go into the day whose file
    gets truncated, no duplicates into the 3 days before it either."""
    cut = bad_records.truncated_day(p)
    clear = 1.0 if cut is None else (p.days - 1) / p.days
    clear_of_late = 1.0 if cut is None else (p.days - min(4, cut + 1)) / p.days
    total = sum(clean.values())
    injected = _share(p.bad_record_rate, total * clear_of_late)
    per_defect = p.bad_record_rate / len(bad_records.EVENT_DEFECTS)
    for defect in bad_records.EVENT_DEFECTS:
        eligible = total if defect.eligible is None else sum(clean[t] for t in defect.eligible)
        injected += _share(per_defect, eligible * clear)
    return injected


def _other_lines(p: GenerateParams) -> dict[str, float]:
    products = len(dims.CATEGORY_SEEDS) * dims.PRODUCTS_PER_CATEGORY
    changes_per_day = min(MAX_CHANGE_RATE, dims.CHANGES_PER_PRODUCT / p.days)
    signed_up_during = min(customers.MAX_SIGNED_UP_DURING, customers.SIGNUPS_PER_DAY * p.days)
    feed = p.customers * (1 + customers.PLAN_CHANGE_SHARE * (1 - signed_up_during / p.days))
    return {
        "customers": _with_copies(p, feed),
        "prices": products * (1 + changes_per_day * (p.days - 1)),
        "weather": _with_copies(p, len(dims.CITIES) * p.days) + p.days,  # + one header per file
    }


def _per_customer(p: GenerateParams) -> dict[str, float]:
    """Expected clean events of each type per customer over the period, and (`anon:<type>`) per
    anonymous session; independent of the number of customers."""
    activity = _daily_activity(p)
    trend_country, trend = _trend(p)
    mix = _session_mix(p, activity)
    paths = customer_paths(p, activity)
    out = {t: paths["sessions"] * mix.get(t, 0.0) for t in dims.EVENT_TYPES}
    out["search"] += float(paths["sessions_by_day"] @ trend) * trend_country
    out["page_view"] += paths["cancels"]  # the cancel session: the account page, then the cancel
    out["subscription_cancel"] = paths["cancels"]
    out["subscription_start"] = paths["signups"]
    out["support_ticket"] = paths["tickets"]
    for t in dims.EVENT_TYPES:
        out["anon:" + t] = mix.get(t, 0.0) if t in ("page_view", "search", "promo_view") else 0.0
    out["anon:search"] += trend_country * float(trend.mean())
    return out


def _city_weights() -> np.ndarray:
    weights = np.array([c.weight for c in dims.CITIES], dtype=float)
    return weights / weights.sum()


def _daily_activity(p: GenerateParams) -> np.ndarray:
    """Per day, the mean weekday x weather activity multiplier over the customers' cities."""
    normal = NormalDist()
    dry = (
        CLOUDY_DRY_DAYS * dims.WEATHER_ACTIVITY["cloudy"]
        + (1 - CLOUDY_DRY_DAYS) * dims.WEATHER_ACTIVITY["sunny"]
    )
    out = np.empty(p.days)
    for day in range(p.days):
        date = p.start + dt.timedelta(days=day)
        season = math.cos(2 * math.pi * (date.timetuple().tm_yday - 200) / 365.25)
        weather = 0.0
        for city, w in zip(dims.CITIES, _city_weights(), strict=True):
            snow = normal.cdf((SNOW_BELOW_C - city.mean_temp - city.temp_amplitude * season) / TEMP_NOISE_C)
            wet = snow * dims.WEATHER_ACTIVITY["snow"] + (1 - snow) * dims.WEATHER_ACTIVITY["rain"]
            weather += w * (city.wet_days * wet + (1 - city.wet_days) * dry)
        out[day] = dims.DOW_ACTIVITY[(p.start_weekday + day) % 7] * weather
    return out


def _trend(p: GenerateParams) -> tuple[float, np.ndarray]:
    """(share of sessions in the trend's country, extra trend searches per such session by day)."""
    trend = plan_scenario(p).trend
    cats = dims.categories(p.seed)
    category_share = cats[trend.category_idx].weight / sum(c.weight for c in cats)
    span = max(1, p.days - 1 - trend.start_day)
    day = np.arange(p.days)
    growth = 1.0 + (trend.factor - 1.0) * (day - trend.start_day) / span
    mean = np.where(day >= trend.start_day, events.SEARCHES * category_share * (growth - 1.0), 0.0)
    country = sum(w for c, w in zip(dims.CITIES, _city_weights(), strict=True) if c.country == trend.country)
    return float(country), capped_mean(mean, TREND_CAP)


def _session_mix(p: GenerateParams, activity: np.ndarray) -> dict[str, float]:
    """Expected events of each type in an ordinary session of a customer (no signup, ticket, cancel)."""
    cities = sum(
        w for c, w in zip(dims.CITIES, _city_weights(), strict=True) if c.city_type == p.promo_city_type
    )
    weekday = (p.start_weekday + np.arange(p.days)) % 7 == p.promo_weekday
    on_weekday = float(activity[weekday].sum() / activity.sum())
    hours = dims.HOUR_WEIGHTS
    in_hours = sum(hours[p.promo_hours[0] : p.promo_hours[1]]) / sum(hours)
    lifted = (PROMO_LIFT - 1) * cities * on_weekday * in_hours  # the planted segment's extra conversions
    converted = events.PROMO_VIEW_SHARE * PROMO_CONVERSION * (1 + lifted)
    cart = 1 + capped_mean(events.EXTRA_CART_ITEMS, CART_CAP)  # items when there is a cart
    checked_out = events.CART_SHARE * events.CHECKOUT_SHARE
    unchecked = events.CART_SHARE * (1 - events.CHECKOUT_SHARE)
    return {
        "page_view": 1 + capped_mean(events.EXTRA_PAGE_VIEWS, PAGE_VIEW_CAP),
        "search": capped_mean(events.SEARCHES, SEARCH_CAP),
        "promo_view": events.PROMO_VIEW_SHARE,
        "add_to_cart": events.CART_SHARE * cart + converted,
        "checkout": checked_out + converted * (1 - checked_out),
        # a converted promo view adds an item and forces the checkout of the whole cart
        "purchase": checked_out * cart + converted * (1 + unchecked * cart),
    }


def _short(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1_000_000 else f"{n:,}"


def _bytes(n: int) -> str:
    for size, unit in ((1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB")):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"
