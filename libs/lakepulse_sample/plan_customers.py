"""The customer side of the volume estimate (plan.py): how many sessions, signups, support tickets
and cancels a customer is expected to have, from the generator's churn hazard and activity.

Customers signed up before the period are there from day 0, those who sign up during it from their
signup day (sampled cohorts); the hazard is integrated over the engagement draw with Gauss-Hermite
nodes, because engagement moves both activity and hazard, in opposite directions.
"""

from __future__ import annotations

import math

import numpy as np

from lakepulse_sample import customers, dims, events
from lakepulse_sample.params import HORIZON_DAYS, GenerateParams

ENGAGEMENT_NODES = 16  # Gauss-Hermite nodes over the engagement draw
SIGNUP_COHORTS = 30  # signup days sampled (evenly) for customers who sign up during the period
SESSION_CAP = 12  # the cap of the generator's count() draw of sessions per day
SYMPTOM_WINDOW = events.PRE_CHURN_DAYS
# Literals the generator writes inline rather than as named constants (kept in step by hand):
ISSUE_ENGAGEMENT, BASIC_ISSUES = 0.4, 1.3  # customers.py: issue rate x exp(-0.4 engagement), x1.3 on basic
ACTIVITY_ENGAGEMENT = 0.5  # events.py: activity x exp(0.5 engagement - 0.125), of mean 1
MAX_CHANGE_RATE = 0.3  # prices.py: daily chance of a product's price change, at most


def capped_mean(mean: float | np.ndarray, cap: int) -> float | np.ndarray:
    """E[min(N, cap)] for the generator's geometric count of mean `mean` (P(N >= k) = q^k)."""
    q = mean / (1.0 + mean)
    return mean * (1.0 - q**cap)


def customer_paths(p: GenerateParams, activity: np.ndarray) -> dict:
    """Per customer: expected ordinary sessions (also by day), signups, tickets and cancels, averaged
    over signup cohorts (before the period, and sampled signup days within it)."""
    during = min(customers.MAX_SIGNED_UP_DURING, customers.SIGNUPS_PER_DAY * p.days)
    n = min(p.days, SIGNUP_COHORTS)
    cohorts = [(None, 1.0 - during)] + [(int((i + 0.5) * p.days / n), during / n) for i in range(n)]
    total = {"sessions_by_day": np.zeros(p.days), "signups": 0.0, "tickets": 0.0, "cancels": 0.0}
    for signup, weight in cohorts:
        if weight > 0:
            for key, value in _cohort(p, activity, signup).items():
                total[key] = total[key] + weight * value
    total["sessions"] = float(total["sessions_by_day"].sum())
    return total


def _engagement_kinds() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(engagement, plan index, weight) of each (plan, engagement node) kind, as column vectors."""
    nodes, node_weights = np.polynomial.hermite_e.hermegauss(ENGAGEMENT_NODES)
    node_weights = node_weights / node_weights.sum()
    plans = np.repeat(np.arange(len(dims.PLANS)), ENGAGEMENT_NODES)
    engagement = np.tile(nodes, len(dims.PLANS))
    weight = np.repeat(np.array(dims.PLAN_WEIGHTS), ENGAGEMENT_NODES) * np.tile(node_weights, len(dims.PLANS))
    return engagement[:, None], plans[:, None], weight / weight.sum()


def _issue_rate(engagement: np.ndarray, plan: np.ndarray) -> np.ndarray:
    """The daily chance of a support issue, as customers.with_churn draws it."""
    basic = dims.PLANS.index("basic")
    return (
        customers.ISSUE_RATE
        * np.exp(-ISSUE_ENGAGEMENT * engagement)
        * np.where(plan == basic, BASIC_ISSUES, 1.0)
    )


def _window(indicator: np.ndarray) -> np.ndarray:
    """out[d] = indicator summed over the WINDOW_DAYS days before d."""
    cumulative = np.concatenate([[0.0], np.cumsum(indicator)])
    day = np.arange(len(indicator))
    return cumulative[day] - cumulative[np.maximum(day - customers.WINDOW_DAYS, 0)]


def _hazard(p: GenerateParams, engagement: np.ndarray, plan: np.ndarray, signup: int | None) -> np.ndarray:
    """Expected daily churn hazard (kinds x days + horizon) of customers signed up on `signup`
    (None: before the period, at a uniform tenure of up to MAX_TENURE_DAYS)."""
    day = np.arange(p.days + HORIZON_DAYS)
    first = 0 if signup is None else signup
    hazards = np.array([customers.DAILY_HAZARD[name] for name in dims.PLANS])
    others = np.array([(hazards.sum() - h) / 2 for h in hazards])  # a plan change picks another plan
    span = p.days - 1 - first
    changed = customers.PLAN_CHANGE_SHARE * (np.clip(day - first, 0, span) / span if span > 0 else 0 * day)
    base = hazards[plan] * (1 - changed) + others[plan] * changed
    if signup is None:
        max_tenure = customers.MAX_TENURE_DAYS
        scale = customers.NEW_CUSTOMER_DAYS
        new = np.exp(-(day + 1) / scale) * (1 - math.exp(-max_tenure / scale)) / (1 - math.exp(-1 / scale))
        new = new / max_tenure
    else:
        new = np.exp(-(day - signup) / customers.NEW_CUSTOMER_DAYS)
    issue_rate = _issue_rate(engagement, plan)
    after_signup = day > (-1 if signup is None else signup)
    tickets = issue_rate * _window((after_signup & (day < p.days)).astype(float))
    lo, hi = dims.PRICE_STEP
    mean_step = ((1 + hi) * math.log(1 + hi) - (1 + lo) * math.log(1 + lo)) / (hi - lo) - 1
    rises = min(MAX_CHANGE_RATE, dims.CHANGES_PER_PRODUCT / p.days) * 0.5 * mean_step
    rises = rises * _window(((day >= 1) & (day < p.days)).astype(float))
    h = (
        base
        * np.exp(-customers.ENGAGEMENT_EFFECT * engagement)
        * (1 + customers.NEW_CUSTOMER_EFFECT * new)
        * (1 + customers.TICKET_EFFECT * tickets)
        * (1 + customers.PRICE_EFFECT * rises)
    )
    return np.where(after_signup, np.minimum(h, customers.MAX_HAZARD), 0.0)


def _cohort(p: GenerateParams, activity: np.ndarray, signup: int | None) -> dict:
    engagement, plan, weight = _engagement_kinds()
    hazard = _hazard(p, engagement, plan, signup)
    alive_after = np.cumprod(1 - hazard, axis=1)  # no churn up to and including the day
    alive_before = np.concatenate([np.ones((len(weight), 1)), alive_after[:, :-1]], axis=1)
    churn = alive_before * hazard  # churns on the day
    days = p.days
    ahead = np.zeros((len(weight), days))  # churn within the next 14 days
    lost = np.zeros((len(weight), days))  # activity lost to the pre-churn decline
    floor = events.PRE_CHURN_FLOOR
    for k in range(1, SYMPTOM_WINDOW + 1):
        ahead += churn[:, k : k + days]
        lost += churn[:, k : k + days] * (1 - floor) * (1 - (k - 1) / (SYMPTOM_WINDOW - 1))
    day = np.arange(days)
    present = day >= (0 if signup is None else signup)
    normal = alive_after[:, :days] * present  # there, and not the churn day
    decline = np.where(normal > 0, (normal - lost) / np.maximum(normal, 1e-300), 1.0)
    mean = (
        events.SESSIONS_PER_DAY
        * np.exp(ACTIVITY_ENGAGEMENT * engagement - ACTIVITY_ENGAGEMENT**2 / 2)
        * activity
        * decline
    )
    issue = _issue_rate(engagement, plan) * (day > (-1 if signup is None else signup))
    tickets = normal - (1 - issue) * (normal - events.SYMPTOM_TICKETS * ahead * present)
    forced = tickets if signup is None else np.where(day == signup, normal, tickets)
    sessions = normal * capped_mean(mean, SESSION_CAP) + forced / (1 + mean)
    return {
        "sessions_by_day": weight @ sessions,
        "signups": 0.0 if signup is None else 1.0,
        "tickets": float(weight @ tickets.sum(axis=1)),
        "cancels": float(weight @ (customers.CANCEL_SHARE * churn[:, :days] * present).sum(axis=1)),
    }
