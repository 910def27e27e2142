"""report: a self-contained HTML page whose plots render in a real headless browser (Chromium)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import matplotlib.image as mpimg
import pytest

from lakepulse.app.report import Plot, Section, Table, render_page
from lakepulse.config import PROJECT_ROOT
from lakepulse.runtime import delta_io
from tests.conftest import load_job, make_config

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DAYS = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(14)]
ANOMALY = ("checkout", dt.date(2026, 1, 9))


def plant_gold(spark, config) -> None:
    kpis = [
        (d, "all", "all", 100 + i, 0.05 + i / 1000, 1000.0 + 10 * i, 10.0, 0.02) for i, d in enumerate(DAYS)
    ]
    delta_io.append(
        spark.createDataFrame(
            kpis,
            "date DATE, dimension STRING, segment STRING, active_customers_daily INT, conversion_rate DOUBLE, "
            "revenue DOUBLE, arpu DOUBLE, churn_rate DOUBLE",
        ),
        config.table_path("gold", "kpi_daily"),
    )
    costs = [
        (d, s, 50.0 * (5 if (s, d) == ANOMALY else 1) + k, (s, d) == ANOMALY)
        for d in DAYS
        for k, s in enumerate(["frontend", "checkout", "search"])
    ]
    delta_io.append(
        spark.createDataFrame(costs, "date DATE, service STRING, effective_cost DOUBLE, is_anomaly BOOLEAN"),
        config.table_path("gold", "cost_kpis_daily"),
    )
    signals = [(DAYS[-1], c, "FR", float(i)) for i, c in enumerate(["books", "garden", "toys"])]
    delta_io.append(
        spark.createDataFrame(signals, "date DATE, category STRING, country STRING, trend_score DOUBLE"),
        config.table_path("gold", "market_signals"),
    )
    promo = [(DAYS[-1], "urban", "Friday", 19, 4.2, 1), (DAYS[-1], "rural", "Monday", 9, 1.1, 2)]
    delta_io.append(
        spark.createDataFrame(
            promo, "date DATE, city_type STRING, weekday STRING, hour INT, lift DOUBLE, lift_rank INT"
        ),
        config.table_path("gold", "promo_response"),
    )
    scores = [(f"k{i}", DAYS[-1], i / 50, ["low", "medium", "high"][min(2, i // 17)]) for i in range(50)]
    delta_io.append(
        spark.createDataFrame(
            scores, "customer_key STRING, as_of_date DATE, churn_probability DOUBLE, risk_band STRING"
        ),
        config.table_path("gold", "churn_scores"),
    )


@pytest.fixture(scope="module")
def report_file(spark, tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("report") / "home"
    config = make_config(home)
    plant_gold(spark, config)
    assert load_job("report").main([f"--set=paths.home={home}"]) == 0
    return Path(config.paths.reports) / "index.html"


def chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium")
    assert binary, "chromium is installed by `make test` (make browser)"
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_report_is_self_contained_and_names_planted_facts(report_file):
    page = report_file.read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page  # nothing fetched from anywhere
    assert "2026-01-09" in page and "checkout" in page  # the planted cost anomaly is listed
    assert "urban" in page and "19h UTC" in page  # the planted promo segment, at hour level


def test_plots_render_in_headless_chromium(report_file, tmp_path):
    dom = chromium("--virtual-time-budget=5000", "--dump-dom", report_file.as_uri(), tmp=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    expected = int(re.search(r'data-plots="(\d+)"', dom.stdout).group(1))
    rendered = int(re.search(r'data-plots-rendered="(\d+)"', dom.stdout).group(1))
    assert expected >= 5 and rendered == expected

    shot = tmp_path / "report.png"
    result = chromium(f"--screenshot={shot}", "--window-size=1200,2400", report_file.as_uri(), tmp=tmp_path)
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    pixels = mpimg.imread(shot)
    assert pixels.std() > 0.05  # not a blank page: plots and text were painted
    red = (pixels[..., 0] > 0.7) & (pixels[..., 1] < 0.3) & (pixels[..., 2] < 0.3)
    assert red.sum() > 20  # the red anomaly markers and churn bars are visible


HOSTILE = "<script>alert('x')</script>"


def test_page_escapes_every_value_from_the_lake():
    """Gold tables hold user-supplied strings (categories, services, countries): none may become markup."""
    section = Section(
        title=f"title {HOSTILE}",
        plots=[Plot(alt=f'alt"{HOSTILE}', png="AAAA")],
        table=Table([f"col {HOSTILE}"], [[f"cell {HOSTILE}"]]),
        note=f"note {HOSTILE} & more",
    )
    page, plots = render_page([section], lake=f"/lake/{HOSTILE}", generated="now")
    assert plots == 1
    assert page.count("<script") == 1  # the page's own load handler, nothing from the data
    escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
    for text in ("title ", "alt&#34;", "col ", "cell ", "note ", "/lake/"):
        assert text + escaped in page, text
    assert "&amp; more" in page


def test_template_loads_from_the_spark_submit_zip(tmp_path):
    """spark-submit.sh ships libs/lakepulse as a zip for --py-files: the template must be read from it."""
    archive = tmp_path / "lakepulse.zip"
    libs = PROJECT_ROOT / "libs"
    with zipfile.ZipFile(archive, "w") as out:  # as spark-submit.sh builds build/lakepulse.zip
        for p in sorted((libs / "lakepulse").rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                out.write(p, p.relative_to(libs))
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import lakepulse.app.report as r; "
        "assert r.__file__.startswith(sys.argv[1]), r.__file__; "
        "page, n = r.render_page([r.Section('zip section', note='from the zip')], lake='l', generated='g'); "
        "print(page)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(archive)], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<h2>zip section</h2><p>from the zip</p>" in done.stdout
