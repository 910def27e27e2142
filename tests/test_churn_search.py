"""The churn search lets TPE propose: after its start-up draws, TPE beats random draws of the same budget.

The loss is a smooth bowl over the real logistic-regression search space (no Spark, no data), lowest at
regParam 0.003 and elasticNetParam 0.8. With hyperopt's default start-up (20 random draws) a budget of
20 is all random draws, TPE never proposes, and the first test fails.
"""

from __future__ import annotations

import math

import numpy as np
from hyperopt import Trials, fmin, rand

from lakepulse.ml.churn import search

BUDGET = 20


def bowl(params: dict) -> float:
    return (math.log10(params["regParam"]) - math.log10(3e-3)) ** 2 + (params["elasticNetParam"] - 0.8) ** 2


def best_loss(algo, seed: int, early_stop=None, loss=bowl) -> tuple[float, int]:
    trials = Trials()
    fmin(
        loss,
        search.search_space("logistic_regression", 60),
        algo=algo,
        max_evals=BUDGET,
        trials=trials,
        rstate=np.random.default_rng(seed),
        early_stop_fn=early_stop,
        show_progressbar=False,
    )
    return min(trials.losses()), len(trials.trials)


def test_tpe_after_its_start_up_beats_random_draws_of_the_same_budget():
    tpe = [best_loss(search.algorithm(BUDGET), seed)[0] for seed in range(10)]
    drawn = [best_loss(rand.suggest, seed)[0] for seed in range(10)]
    wins = sum(t < r for t, r in zip(tpe, drawn, strict=True))
    assert wins >= 7 and np.median(tpe) < np.median(drawn), (tpe, drawn)


def test_the_start_up_is_a_quarter_of_the_budget_and_at_least_one_draw():
    assert [search.startup_trials(n) for n in (1, 2, 4, 5, 20, 100)] == [1, 1, 1, 2, 5, 25]


def test_a_search_without_progress_stops_after_its_patience():
    _, tried = best_loss(search.algorithm(BUDGET), 0, search.early_stop(3), loss=lambda _params: 1.0)
    assert tried == 3  # hyperopt's no_progress_loss counts the first trial as one without progress
    assert search.early_stop(0) is None
