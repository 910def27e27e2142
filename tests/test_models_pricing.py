"""Pricing: gold/product_demand_daily against pandas, elasticities recovered against planted ones (the
comparison made here: the product never reads the truth), recommendations against a brute-force search,
the logged model and lineage, and champion/challenger over three trainings (one worse, one better)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lakepulse_sample import truth as planted_truth

from lakepulse.ml import demand_fit, demand_model, pricing
from lakepulse.runtime import delta_io
from tests import model_fixtures as mf
from tests.conftest import load_job, make_config


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory):
    home = tmp_path_factory.mktemp("pricing") / "home"
    config = make_config(home)
    world = mf.pricing_world()
    mf.write_pricing_lake(spark, config, world)
    assert load_job("train_pricing").main(mf.job_args(home)) == 0
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=config.mlflow.tracking_uri, registry_uri=config.mlflow.registry_uri)
    experiment = client.get_experiment_by_name(config.mlflow.experiment)
    (run,) = client.search_runs([experiment.experiment_id])
    return {"home": home, "config": config, "world": world, "client": client, "run": run}


def elasticities(spark, config, champion: bool = True) -> pd.DataFrame:
    table = delta_io.read_delta(spark, config.table_path("gold", "price_elasticities")).toPandas()
    return table[table["is_champion"] == champion].set_index("category")


def test_every_planted_elasticity_is_recovered_within_ten_percent(spark, trained):
    table = elasticities(spark, trained["config"])
    assert sorted(table.index) == sorted(mf.PLANTED_ELASTICITIES)
    metrics = trained["run"].data.metrics
    errors = planted_truth.elasticity_errors(table["elasticity"].to_dict(), mf.PLANTED_ELASTICITIES)
    for category, planted in mf.PLANTED_ELASTICITIES.items():
        row = table.loc[category]
        error = abs(row["elasticity"] - planted) / abs(planted)
        print(f"{category}: estimate {row['elasticity']:.3f}, planted {planted}, error {error:.1%}")
        assert error <= 0.10, category
        assert errors[category] == pytest.approx(error)
        assert row["ci_low"] < row["elasticity"] < row["ci_high"]
        assert metrics[f"elasticity.{category}"] == pytest.approx(row["elasticity"])
    assert pricing.TEST_METRIC in metrics and metrics["mean_r2"] > 0
    # The truth was on disk (landing/_truth), and the product still knows nothing of it.
    assert (Path(trained["config"].paths.landing) / "_truth" / "elasticities.csv").exists()
    assert not [k for k in metrics if "planted" in k or "rel_error" in k or "within" in k]


def demand_in_pandas(world: mf.PricingWorld) -> pd.DataFrame:
    """gold/product_demand_daily recomputed from the world's own frames, row by row."""
    prices = world.prices.assign(valid_to=pd.to_datetime(world.prices["valid_to"]))
    buys = world.events[(world.events["event_type"] == "purchase") & (world.events["quantity"] > 0)]
    lines = buys.merge(prices[["product_id", "price", "valid_from", "valid_to"]], on="product_id")
    lines = lines[
        (lines["valid_from"] <= lines["event_ts"])
        & (lines["valid_to"].isna() | (lines["event_ts"] < lines["valid_to"]))
    ]
    demand = lines.groupby(["product_id", "event_date"]).agg(
        purchases=("quantity", "size"),
        quantity=("quantity", "sum"),
        log_price=("price", lambda p: float(np.mean(np.log(p)))),
        promo_share=("promo_code", lambda c: float(c.notna().mean())),
    )
    base = prices.sort_values("valid_from").groupby("product_id")[["category", "price"]].first()
    weather = world.weather.groupby("date")[["temp_c", "precipitation_mm"]].mean()
    start = min(world.events["event_date"])
    rows = []
    for product, (category, base_price) in base.iterrows():
        for d in range(world.days):
            day = start + dt.timedelta(days=d)
            close = pd.Timestamp(day + dt.timedelta(days=1))
            mine = prices[(prices["product_id"] == product) & (prices["valid_from"] < close)]
            mine = mine[mine["valid_to"].isna() | (mine["valid_to"] >= close)]
            sold = demand.loc[(product, day)] if (product, day) in demand.index else None
            rows.append(
                {
                    "date": day,
                    "category": category,
                    "product_id": product,
                    "day_of_week": day.isoweekday() % 7 + 1,
                    "purchases": 0 if sold is None else int(sold["purchases"]),
                    "quantity": 0 if sold is None else int(sold["quantity"]),
                    "log_price": np.nan if sold is None else sold["log_price"],
                    "promo_share": np.nan if sold is None else sold["promo_share"],
                    "list_price": float(mine["price"].iloc[0]) if len(mine) else np.nan,
                    "base_price": float(base_price),
                    "temp_c": weather.loc[day, "temp_c"],
                    "precipitation_mm": weather.loc[day, "precipitation_mm"],
                }
            )
    return pd.DataFrame(rows).sort_values(["product_id", "date"]).reset_index(drop=True)


def test_product_demand_daily_matches_an_independent_pandas_computation(spark, trained):
    config, world = trained["config"], trained["world"]
    got = delta_io.read_delta(spark, config.table_path("gold", "product_demand_daily")).toPandas()
    got = got.sort_values(["product_id", "date"]).reset_index(drop=True)
    want = demand_in_pandas(world)
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want) == len(world.prices["product_id"].unique()) * world.days
    for column in ("date", "category", "product_id", "day_of_week", "purchases", "quantity"):
        assert got[column].tolist() == want[column].tolist(), column
    for column in ("log_price", "promo_share", "list_price", "base_price", "temp_c", "precipitation_mm"):
        np.testing.assert_allclose(
            got[column].astype(float), want[column].astype(float), rtol=1e-9, err_msg=column
        )


def test_recommendations_maximise_margin_within_the_guardrail(spark, trained):
    """Each recommended price against a brute-force search over every cent the guardrail allows; the
    expected gain's range and the guardrail verdict against numpy over the champion's interval."""
    config, world = trained["config"], trained["world"]
    m = config.models.price_max_change
    intervals = elasticities(spark, config)
    e = intervals["elasticity"]
    recs = delta_io.read_delta(spark, config.table_path("gold", "price_recommendations")).toPandas()
    prices = world.prices
    current = prices[prices["valid_to"].isna()].set_index("product_id")["price"]
    first = prices.sort_values("valid_from").groupby("product_id")["price"].first()
    as_of = max(world.events["event_date"])
    recent = world.events[
        world.events["event_date"] > as_of - dt.timedelta(days=config.models.demand_baseline_days)
    ]
    baseline = recent.groupby("product_id")["quantity"].sum() / config.models.demand_baseline_days
    assert sorted(recs["product_id"]) == sorted(current.index)
    for r in recs.itertuples(index=False):
        p0, cost, q0, elasticity = (
            current[r.product_id],
            0.6 * first[r.product_id],
            baseline[r.product_id],
            e[r.category],
        )
        grid = np.arange(np.ceil(p0 * (1 - m) * 100), np.floor(p0 * (1 + m) * 100) + 1) / 100
        margin = (grid - cost) * q0 * (grid / p0) ** elasticity
        best = grid[np.argmax(margin)]
        assert float(r.recommended_price) == pytest.approx(best, abs=0.011), r.product_id
        assert abs(float(r.recommended_price) / p0 - 1) <= m + 1e-9
        assert float(r.unit_cost) == pytest.approx(cost, abs=0.006)
        assert r.baseline_daily_quantity == pytest.approx(q0)
        q1 = q0 * (float(r.recommended_price) / p0) ** elasticity
        assert r.expected_daily_quantity == pytest.approx(q1)
        expected_change = (float(r.recommended_price) - cost) * q1 - (p0 - cost) * q0
        assert r.expected_margin_change == pytest.approx(expected_change, rel=1e-3, abs=0.05)
        assert r.expected_margin_change >= -1e-6  # never recommends losing margin
        # The range over the elasticity's 95% interval, and whether the guardrail held the price back.
        lo, hi = intervals.loc[r.category, "ci_low"], intervals.loc[r.category, "ci_high"]
        p1 = float(r.recommended_price)
        gains = [(p1 - cost) * q0 * (p1 / p0) ** b - (p0 - cost) * q0 for b in (lo, hi)]
        assert r.expected_margin_change_low == pytest.approx(min(gains), rel=1e-6, abs=1e-9)
        assert r.expected_margin_change_high == pytest.approx(max(gains), rel=1e-6, abs=1e-9)
        assert r.expected_margin_change_low <= r.expected_margin_change <= r.expected_margin_change_high
        volumes = [((p1 / p0) ** b - 1) * 100 for b in (lo, hi)] if q0 > 0 else [0.0, 0.0]
        assert r.expected_demand_change_pct_low == pytest.approx(min(volumes), abs=1e-9)
        assert r.expected_demand_change_pct_high == pytest.approx(max(volumes), abs=1e-9)
        significant = hi < 0
        optimum = cost * elasticity / (1 + elasticity) if elasticity < -1 else np.inf
        binds = significant and not (p0 * (1 - m) <= optimum <= p0 * (1 + m))
        assert r.guardrail_binds == binds, r.product_id
        if binds and np.isfinite(optimum):
            assert r.unconstrained_price == pytest.approx(optimum, rel=1e-9)
            assert f"{optimum:,.2f}" in r.reason and "guardrail" in r.reason
    assert set(recs["model_version"]) == {1}


def test_run_logs_lineage_plots_and_a_usable_model(spark, trained):
    import mlflow

    config, client, run = trained["config"], trained["client"], trained["run"]
    # The run read gold only, at the version it logged.
    version = delta_io.table_version(spark, config.table_path("gold", "product_demand_daily"))
    assert int(run.data.params["delta_version.gold.product_demand_daily"]) == version
    assert not [k for k in run.data.params if k.startswith("delta_version.") and ".gold." not in k]
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert {"plots/elasticities.png", "plots/demand_curves.png"} <= plots
    from mlflow.models import get_model_info

    info = get_model_info("models:/lakepulse-pricing/1")
    assert info.signature.inputs.input_names() == [
        "category",
        "price",
        "day_of_week",
        "promo_share",
        "temp_c",
        "precipitation_mm",
    ]
    assert info.saved_input_example_info is not None
    # The champion predicts units per purchase close to the planted curve (no promo, a Wednesday).
    mlflow.set_registry_uri(config.mlflow.registry_uri)
    model = mlflow.pyfunc.load_model("models:/lakepulse-pricing@champion")
    probe = pd.DataFrame(
        {
            "category": ["books", "electronics"],
            "price": [22.0, 180.0],
            "day_of_week": np.array([4, 4], dtype="int32"),
            "promo_share": [0.0, 0.0],
            "temp_c": [10.0, 10.0],
            "precipitation_mm": [1.0, 1.0],
        }
    )
    got = model.predict(probe)["expected_units_per_purchase"].to_numpy()
    for i, (category, price) in enumerate(zip(probe["category"], probe["price"], strict=True)):
        e = mf.PLANTED_ELASTICITIES[category]
        base_q = 3.3 * (1.25 * np.exp(0.22)) ** abs(e) / 0.9
        planted = base_q * (price / mf.BASE_PRICES[category]) ** e
        assert got[i] == pytest.approx(planted, rel=0.08), category


def rescored_rmse(spark, config, version: int) -> float:
    """A registered version's line-weighted RMSE of log units per purchase line on the lake's holdout
    (its latest 20% of days with a purchase), from the version's pyfunc predictions: computed here,
    independently of the job, to check the champion score the job logs."""
    import mlflow

    table = delta_io.read_delta(spark, config.table_path("gold", "product_demand_daily")).toPandas()
    bought = table[(table["purchases"] > 0) & (table["quantity"] > 0) & table["log_price"].notna()]
    days = sorted(bought["date"].unique())
    test = bought[bought["date"] >= days[-round(len(days) * 0.2)]]
    mlflow.set_registry_uri(config.mlflow.registry_uri)
    model = mlflow.pyfunc.load_model(f"models:/lakepulse-pricing/{version}")
    smearing = {c: f.smearing for c, f in demand_model.fits_of(model.unwrap_python_model()).items()}
    inputs = pd.DataFrame(
        {
            "category": test["category"].astype(str),
            "price": np.exp(test["log_price"].astype(float)),
            "day_of_week": test["day_of_week"].astype("int32"),
            "promo_share": test["promo_share"].astype(float),
            "temp_c": test["temp_c"].astype(float),
            "precipitation_mm": test["precipitation_mm"].astype(float),
        }
    ).reset_index(drop=True)
    predicted = model.predict(inputs)["expected_units_per_purchase"].to_numpy(float)
    log_predicted = np.log(predicted / inputs["category"].map(smearing).to_numpy(float))
    actual = np.log(test["quantity"].to_numpy(float) / test["purchases"].to_numpy(float))
    return float(
        np.sqrt(np.average((actual - log_predicted) ** 2, weights=test["purchases"].to_numpy(float)))
    )


def test_champion_moves_only_for_a_better_model_and_old_versions_stay_loadable(spark, trained):
    """Runs last. The champion is judged on each challenger's own holdout: a challenger fitted on thin
    data (few purchase lines a day) is worse there and stays challenger; one trained on a world with
    bigger baskets, where the champion's level is wrong, wins by far more than the margin."""
    import mlflow

    config, client, home = trained["config"], trained["client"], trained["home"]
    job = load_job("train_pricing")
    margin = config.models.pricing_promotion_margin

    mf.write_pricing_lake(spark, config, mf.pricing_world(lines_per_day=1.0, seed=12))
    assert job.main(mf.job_args(home)) == 0
    v2 = client.get_model_version("lakepulse-pricing", "2")
    logged = client.get_run(v2.tags["source_run_id"]).data
    champion_rmse = rescored_rmse(spark, config, 1)
    assert logged.metrics["champion_test_rmse_log_units"] == pytest.approx(champion_rmse, rel=1e-9)
    assert logged.metrics["challenger_test_rmse_log_units"] == float(v2.tags["test_metric"])
    assert float(v2.tags["test_metric"]) > champion_rmse  # worse on the same holdout
    assert logged.params["champion_version"] == "1" and logged.params["champion_rescored"] == "true"
    assert logged.metrics["promoted"] == 0.0 and float(logged.params["promotion_margin"]) == margin
    assert str(client.get_model_version_by_alias("lakepulse-pricing", "champion").version) == "1"
    recs = delta_io.read_delta(spark, config.table_path("gold", "price_recommendations")).toPandas()
    assert set(recs["model_version"]) == {1}  # recommendations still come from the champion
    assert set(elasticities(spark, config)["model_version"]) == {1}
    assert set(elasticities(spark, config, champion=False)["model_version"]) == {2}  # the challenger, shown

    mf.write_pricing_lake(spark, config, mf.pricing_world(quantity_scale=4.0, seed=13))
    assert job.main(mf.job_args(home)) == 0
    v3 = client.get_model_version("lakepulse-pricing", "3")
    logged = client.get_run(v3.tags["source_run_id"]).data
    champion_rmse = rescored_rmse(spark, config, 1)
    assert logged.metrics["champion_test_rmse_log_units"] == pytest.approx(champion_rmse, rel=1e-9)
    assert champion_rmse - float(v3.tags["test_metric"]) > margin  # better by more than the margin
    assert logged.metrics["promoted"] == 1.0
    assert str(client.get_model_version_by_alias("lakepulse-pricing", "champion").version) == "3"
    assert str(client.get_model_version_by_alias("lakepulse-pricing", "previous_champion").version) == "1"
    mlflow.set_registry_uri(config.mlflow.registry_uri)
    for version in (1, 2, 3):
        model = mlflow.pyfunc.load_model(f"models:/lakepulse-pricing/{version}")
        assert set(demand_model.fits_of(model.unwrap_python_model())) == set(mf.PLANTED_ELASTICITIES)
    recs = delta_io.read_delta(spark, config.table_path("gold", "price_recommendations")).toPandas()
    assert set(recs["model_version"]) == {3}
    assert set(elasticities(spark, config)["model_version"]) == {3}
    assert elasticities(spark, config, champion=False).empty


# --------------------------------------------------------------------------------------------------
# The fit against an independent least-squares solve, and a model pickled before the module split
# (no Spark: these run on small pandas frames)

PLANTED_E = -1.7


def planted_demand(days: int = 56, products: int = 3, seed: int = 5) -> pd.DataFrame:
    """One category's product-days with a planted log-log curve, weather, promos and uneven lines."""
    rng = np.random.default_rng(seed)
    start = dt.date(2026, 3, 1)
    rows = []
    for j in range(products):
        for d in range(days):
            day = start + dt.timedelta(days=d)
            log_price = np.log(10.0 * (1 + 0.2 * j)) + rng.uniform(-0.2, 0.2)
            dow = day.isoweekday() % 7 + 1
            promo, temp, rain = rng.uniform(0, 0.5), rng.normal(12, 5), rng.gamma(0.6, 3.0)
            lines = int(rng.integers(1, 12))
            log_units = 3.0 + PLANTED_E * log_price + 0.03 * dow + 0.4 * promo + 0.01 * temp - 0.02 * rain
            units = max(1, round(lines * np.exp(log_units + rng.normal(0, 0.3 / np.sqrt(lines)))))
            rows.append(("toys", f"T{j}", day, dow, lines, units, log_price, promo, temp, rain))
    return pd.DataFrame(rows, columns=[f.name for f in pricing.DEMAND_SCHEMA.fields])


def test_fit_matches_an_independent_weighted_least_squares_solve():
    """Elasticity, standard error and 95% interval against numpy lstsq on sqrt(lines)-scaled data:
    WLS weights are inverse variances (the lines), sigma^2 = weighted RSS / (n - k), t with n - k dof."""
    from scipy import stats

    frame = planted_demand()
    fit = demand_fit.fit_category("toys", frame)

    dow = frame["day_of_week"].to_numpy()
    x = np.column_stack(
        [
            np.ones(len(frame)),
            frame["log_price"],
            *[(dow == d).astype(float) for d in range(2, 8)],
            frame["promo_share"],
            frame["temp_c"],
            frame["precipitation_mm"],
        ]
    )
    y = np.log(frame["quantity"] / frame["purchases"]).to_numpy()
    root = np.sqrt(frame["purchases"].to_numpy(float))
    xw, yw = x * root[:, None], y * root
    beta, rss, rank, _ = np.linalg.lstsq(xw, yw, rcond=None)
    n, k = x.shape
    assert rank == k
    sigma2 = float(rss[0]) / (n - k)
    se = np.sqrt(sigma2 * np.linalg.inv(xw.T @ xw)[1, 1])
    half = stats.t.ppf(0.975, n - k) * se

    assert fit.elasticity == pytest.approx(beta[1], rel=1e-10)
    assert fit.std_error == pytest.approx(se, rel=1e-10)
    assert fit.ci_low == pytest.approx(beta[1] - half, rel=1e-10)
    assert fit.ci_high == pytest.approx(beta[1] + half, rel=1e-10)
    assert fit.n_observations == n and fit.significant
    assert abs(fit.elasticity - PLANTED_E) < 3 * fit.std_error  # and it finds the planted curve


def test_a_category_without_price_variation_gets_no_estimate():
    frame = planted_demand().assign(log_price=np.log(10.0))
    fit = demand_fit.fit_category("toys", frame)
    assert np.isnan(fit.elasticity) and np.isnan(fit.ci_high) and not fit.significant
    assert fit.n_observations == len(frame)


def test_a_model_registered_before_the_module_split_still_loads_and_predicts():
    """tests/data/pricing_model_before_split was saved by the single-module code, whose pickle names
    the class lakepulse.ml.pricing.DemandModel (cloudpickle, by reference; no code_paths)."""
    import mlflow.pyfunc

    path = Path(__file__).parent / "data" / "pricing_model_before_split"
    assert b"lakepulse.ml.pricing" in (path / "python_model.pkl").read_bytes()
    model = mlflow.pyfunc.load_model(str(path))
    assert isinstance(model.unwrap_python_model(), demand_model.DemandModel)
    probe = pd.DataFrame(
        {
            "category": ["books", "electronics", "toys"],
            "price": [22.0, 180.0, 30.0],
            "day_of_week": np.array([4, 4, 1], dtype="int32"),
            "promo_share": [0.0, 0.0, 0.5],
            "temp_c": [10.0, 10.0, None],
            "precipitation_mm": [1.0, 1.0, 0.0],
        }
    )
    got = model.predict(probe)["expected_units_per_purchase"].to_numpy()
    # What the model predicted when it was saved, before the split.
    assert got == pytest.approx([6.216925420333065, 14.572194190524016, 7.1608417394585215], rel=1e-12)


def test_a_champion_pickled_before_the_layered_layout_still_unpickles():
    """Registered pricing models name their class by reference; those of lakepulse 0.1 name
    lakepulse.models.pricing.DemandModel (the package was renamed to lakepulse.ml)."""
    import pickle

    assert pickle.loads(b"clakepulse.models.pricing\nDemandModel\n.") is pricing.DemandModel
