"""Customers, their latent engagement, and the churn process that later issues try to learn.

Churn is a daily hazard driven by things a model can observe point-in-time: the plan, support tickets
in the last 14 days, price rises in the customer's favourite category over the last 14 days, tenure,
and engagement (visible as activity). The whole path of one customer is simulated in one row with
array functions (`F.transform` over the days), so it needs no shuffle and no ordering across rows.

The simulation runs HORIZON_DAYS past the last generated day with no new tickets and no new price
changes (nothing after the period is observable, so nothing after it may move the hazard). That makes
the truth exact: `churn_probability` is 1 - prod(1 - hazard) over those days, and the churn date that
the same draws produce may fall inside that horizon. Customers who churn then already show the
pre-churn decline at the end of the period.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse.runtime.session import default_parallelism
from lakepulse_sample import dims
from lakepulse_sample.params import HORIZON_DAYS, GenerateParams
from lakepulse_sample.randomness import (
    index_sql,
    normal,
    pick,
    uniform,
    uniform_sql,
    weighted_index,
    weighted_index_sql,
)

CUSTOMER_CSV_COLUMNS = (
    "customer_id",
    "signup_date",
    "country",
    "city",
    "city_type",
    "plan",
    "acquisition_channel",
    "age_band",
    "email",
    "ip_address",
    "updated_at",
)

SIGNUPS_PER_DAY = 0.003  # new customers per day of the period, as a share of all customers
MAX_SIGNED_UP_DURING = 0.5
MAX_TENURE_DAYS = 720
PLAN_CHANGE_SHARE = 0.12
DAILY_HAZARD = {"basic": 0.0024, "standard": 0.0015, "premium": 0.0008}
ENGAGEMENT_EFFECT = 0.5  # hazard x exp(-0.5 * engagement)
NEW_CUSTOMER_EFFECT = 1.0  # hazard x (1 + exp(-tenure / 30)): the first months are fragile
NEW_CUSTOMER_DAYS = 30.0
TICKET_EFFECT = 1.0  # hazard x (1 + tickets in the last 14 days)
PRICE_EFFECT = 6.0  # hazard x (1 + 6 * average log price rise in the favourite category, last 14 days)
MAX_HAZARD = 0.2
WINDOW_DAYS = 14
ISSUE_RATE = 0.012  # daily chance of a problem that makes a customer open a ticket
CANCEL_SHARE = 0.85  # churners who send a subscription_cancel (the rest just vanish)


def _u(p: GenerateParams, salt: str, *keys: Column | str) -> Column:
    return uniform(p.seed, salt, "customer", *keys)


def _us(p: GenerateParams, salt: str) -> str:
    return uniform_sql(p.seed, salt, "customer")


def customer_base(spark: SparkSession, p: GenerateParams) -> DataFrame:
    """One row per customer with its static attributes (what the customers feed shows) and latent ones."""
    partitions = max(default_parallelism(spark), math.ceil(p.customers * p.days / 500_000))
    base = spark.range(0, p.customers, 1, partitions).select(F.col("id").alias("customer"))
    signed_up_during = min(MAX_SIGNED_UP_DURING, SIGNUPS_PER_DAY * p.days)
    signup_day = (
        F.when(
            _u(p, "signup_before") >= signed_up_during, -1 - F.floor(_u(p, "signup_back") * MAX_TENURE_DAYS)
        )
        .otherwise(F.floor(_u(p, "signup_in") * p.days))
        .cast("int")
    )
    plan_idx = weighted_index(_us(p, "plan"), dims.PLAN_WEIGHTS)
    first_active = F.greatest(F.col("signup_day"), F.lit(0))
    cats = dims.categories(p.seed)
    u = lambda salt: _u(p, salt)  # noqa: E731
    out = base.withColumns(
        {
            "signup_day": signup_day,
            "signup_second": F.floor(u("signup_second") * 86400).cast("int"),
            "customer_id": F.format_string("C%08d", F.col("customer") + 1),
            "city_idx": weighted_index(_us(p, "city"), [c.weight for c in dims.CITIES]),
            "plan_idx": plan_idx,
            "acquisition_channel": pick(
                dims.CHANNELS, weighted_index_sql(_us(p, "channel"), dims.CHANNEL_WEIGHTS)
            ),
            "age_band": pick(dims.AGE_BANDS, weighted_index_sql(_us(p, "age"), dims.AGE_WEIGHTS)),
            "fav_category_idx": weighted_index(_us(p, "fav_category"), [c.weight for c in cats]),
            "primary_device": pick(dims.DEVICES, weighted_index_sql(_us(p, "device"), dims.DEVICE_WEIGHTS)),
            "engagement": normal(p.seed, "engagement", "customer"),
            "email": _email(p),
            "ip_address": ipv4(p.seed, "home_ip", "customer"),
        }
    ).withColumns(
        {
            "plan": pick(dims.PLANS, "plan_idx"),
            "new_plan": pick(dims.PLANS, f"pmod(plan_idx + 1 + {index_sql(_us(p, 'new_plan'), 2)}, 3)"),
            # A plan change on a day after signup (only inside the period, where it can be observed).
            "plan_change_day": F.when(
                (u("plan_change") < PLAN_CHANGE_SHARE) & (first_active < p.days - 1),
                first_active + 1 + F.floor(u("plan_change_day") * (p.days - 1 - first_active)).cast("int"),
            ),
        }
    )
    return out


def _email(p: GenerateParams) -> Column:
    first = pick(dims.FIRST_NAMES, index_sql(_us(p, "first_name"), len(dims.FIRST_NAMES)))
    last = pick(dims.LAST_NAMES, index_sql(_us(p, "last_name"), len(dims.LAST_NAMES)))
    domain = pick(dims.EMAIL_DOMAINS, index_sql(_us(p, "email_domain"), len(dims.EMAIL_DOMAINS)))
    # The customer number keeps addresses unique, as a real sign-up form would.
    return F.concat(first, F.lit("."), last, (F.col("customer") + 1).cast("string"), F.lit("@"), domain)


def ipv4(seed: int, salt: str, *keys: str) -> Column:
    """A public-looking IPv4 address drawn from the keys."""
    octets = [
        f"CAST(element_at(array({', '.join(map(str, dims.IP_FIRST_OCTETS))}), "
        f"{index_sql(uniform_sql(seed, salt + ':0', *keys), len(dims.IP_FIRST_OCTETS))} + 1) AS STRING)"
    ]
    octets += [f"CAST({low} + {index_sql(uniform_sql(seed, f'{salt}:{i}', *keys), 255 - low)} AS STRING)"
               for i, low in ((1, 0), (2, 0), (3, 1))]  # fmt: skip
    return F.expr(f"concat_ws('.', {', '.join(octets)})")


def _daily_hazard(day: Column) -> Column:
    """Churn hazard on `day` from plan, engagement, tenure, recent tickets and price rises."""
    plan = plan_on_day(day)
    base = (
        F.when(plan == "basic", DAILY_HAZARD["basic"])
        .when(plan == "standard", DAILY_HAZARD["standard"])
        .otherwise(DAILY_HAZARD["premium"])
    )
    # Strictly before `day`: what is known at the end of the previous day drives today's risk.
    tickets = F.size(F.filter("issue_days", lambda t: (t < day) & (t >= day - WINDOW_DAYS)))
    rises = F.coalesce(F.try_element_at("rises", day + 1), F.lit(0.0))
    tenure = (day - F.col("signup_day")).cast("double")
    h = (
        base
        * F.exp(-ENGAGEMENT_EFFECT * F.col("engagement"))
        * (1.0 + NEW_CUSTOMER_EFFECT * F.exp(-tenure / NEW_CUSTOMER_DAYS))
        * (1.0 + TICKET_EFFECT * tickets)
        * (1.0 + PRICE_EFFECT * rises)
    )
    return F.when(day > F.col("signup_day"), F.least(h, F.lit(MAX_HAZARD))).otherwise(F.lit(0.0))


def with_churn(p: GenerateParams, category_rises: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """`category_rises`: (category_idx, rises) from `prices.category_rises` over days + HORIZON_DAYS.

    Adds issue_days, hazard_path (days 0 .. days+HORIZON-1), churn_day and the churn truth columns."""
    total = p.days + HORIZON_DAYS

    def transform(customers: DataFrame) -> DataFrame:
        issue_rate = (
            ISSUE_RATE
            * F.exp(-0.4 * F.col("engagement"))
            * F.when(F.col("plan") == "basic", 1.3).otherwise(1.0)
        )
        rise_table = F.broadcast(
            category_rises.select(F.col("category_idx").alias("fav_category_idx"), "rises")
        )
        flags = F.transform("hazard_path", lambda h, day: _u(p, "churn", day) < h)
        churn_pos = F.array_position(flags, True).cast("int")
        horizon = F.slice("hazard_path", p.days + 1, HORIZON_DAYS)
        survive = F.aggregate(horizon, F.lit(1.0), lambda acc, h: acc * (1.0 - h))
        out = (
            customers.join(rise_table, on="fav_category_idx", how="left")
            .withColumns(
                {
                    "issue_days": F.filter(
                        F.sequence(F.lit(0), F.lit(p.days - 1)),
                        lambda d: (d > F.col("signup_day")) & (_u(p, "issue", d) < issue_rate),
                    ),
                }
            )
            .withColumn("hazard_path", F.transform(F.sequence(F.lit(0), F.lit(total - 1)), _daily_hazard))
            .withColumn("churn_day", F.when(churn_pos > 0, churn_pos - 1))
        )
        active_at_end = F.col("churn_day").isNull() | (F.col("churn_day") >= p.days)
        return out.withColumns(
            {
                "churn_probability": F.when(active_at_end, 1.0 - survive),
                "churn_daily_hazard": F.when(active_at_end, F.element_at("hazard_path", p.days)),
                # A plan change planned for the churn day or later never happens.
                "plan_change_day": F.when(
                    F.col("churn_day").isNull() | (F.col("plan_change_day") < F.col("churn_day")),
                    F.col("plan_change_day"),
                ),
            }
        )

    return transform


def plan_on_day(day: Column | str) -> Column:
    day = F.col(day) if isinstance(day, str) else day
    changed = F.col("plan_change_day").isNotNull() & (day >= F.col("plan_change_day"))
    return F.when(changed, F.col("new_plan")).otherwise(F.col("plan"))


def customers_feed(customers: DataFrame, cities: DataFrame, p: GenerateParams) -> DataFrame:
    """The customers CSV rows: the signup state (in the first day's folder for earlier signups) and,
    for plan changers, the new state on the change day with a later updated_at."""
    start = F.lit(p.start)
    signup_date = F.date_add(start, F.col("signup_day"))
    located = customers.join(F.broadcast(cities), on="city_idx", how="left")
    common = [
        "customer",
        "customer_id",
        F.date_format(signup_date, "yyyy-MM-dd").alias("signup_date"),
        "country",
        "city",
        "city_type",
    ]
    tail = ["acquisition_channel", "age_band", "email", "ip_address"]
    signup_ts = F.timestamp_seconds(F.unix_timestamp(F.to_timestamp(signup_date)) + F.col("signup_second"))
    initial = located.select(
        *common,
        "plan",
        *tail,
        F.date_format(signup_ts, "yyyy-MM-dd'T'HH:mm:ss'Z'").alias("updated_at"),
        F.greatest(F.col("signup_day"), F.lit(0)).alias("day"),
    )
    change_second = F.floor(_u(p, "plan_change_second") * 86400).cast("long")
    change_ts = F.timestamp_seconds(
        F.unix_timestamp(F.to_timestamp(F.date_add(start, F.col("plan_change_day")))) + change_second
    )
    changed = located.where(F.col("plan_change_day").isNotNull()).select(
        *common,
        F.col("new_plan").alias("plan"),
        *tail,
        F.date_format(change_ts, "yyyy-MM-dd'T'HH:mm:ss'Z'").alias("updated_at"),
        F.col("plan_change_day").alias("day"),
    )
    return initial.unionByName(changed).withColumn(
        "date", F.date_format(F.date_add(start, F.col("day")), "yyyy-MM-dd")
    )


def churn_truth(customers: DataFrame, p: GenerateParams) -> DataFrame:
    def fixed(column: str, digits: int) -> Column:
        return F.when(F.col(column).isNotNull(), F.format_string(f"%.{digits}f", column))

    return customers.select(
        "customer_id",
        fixed("churn_probability", 6).alias("churn_probability"),
        fixed("churn_daily_hazard", 8).alias("churn_daily_hazard"),
        F.date_format(F.date_add(F.lit(p.start), F.col("churn_day")), "yyyy-MM-dd").alias("churn_date"),
    )
