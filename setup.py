"""Installs the `lakepulse` library from libs/.

Runtime pins are exact. Where a pin is not the newest release, the reason is recorded beside it.
"""

from setuptools import find_packages, setup

# Delta Lake and Spark move as a pair: delta-spark 4.4.x supports pyspark <= 4.2.0.
# delta-spark 4.4.1 is on PyPI but its JVM artifacts are not on Maven Central, and the Python
# package must match the jars it drives, so 4.4.0 is the newest usable pair.
PYSPARK_VERSION = "4.2.0"  # newest allowed by delta-spark 4.4.0 (pyspark<=4.2.0)
DELTA_VERSION = "4.4.0"

RUNTIME = [
    f"pyspark=={PYSPARK_VERSION}",
    f"delta-spark=={DELTA_VERSION}",
    "importlib-metadata==8.7.1",  # delta-spark caps it at <=8.7.1
    "mlflow==3.17.2",  # 3.18.0's mlflow-skinny is not published yet
    "hyperopt==0.3.0",
    "pandas==2.3.3",  # pyspark 4.2 warns that it does not support pandas 3
    "numpy==2.4.6",  # newest numpy published for Python 3.11
    "pyarrow==25.0.1",  # mlflow 3.17.2 requires pyarrow<26
    "scipy==1.17.1",
    "statsmodels==0.15.0",  # the pricing model's weighted least squares (ml.demand_fit)
    "scikit-learn==1.9.1",
    "matplotlib==3.11.2",
    "PyYAML==6.0.3",  # also what pydantic-settings' YAML source reads with
    "pydantic==2.14.4",
    "pydantic-settings==2.16.3",  # the typed configuration (lakepulse.config)
    "Jinja2==3.1.6",  # the HTML run report's template (lakepulse/templates)
    "requests==2.34.2",  # Delta's jars from Maven Central (runtime.jars); also an mlflow dependency
    "urllib3==2.8.0",  # requests' transport; its Retry makes the jar download retry with backoff
    "tenacity==9.2.1",  # retries of Delta's concurrent-commit conflicts (runtime.conflicts)
    "py4j==0.10.9.9",  # the version pyspark 4.2.0 bundles
    # pyspark[connect]'s client side: jobs run with --remote sc://... as Spark Connect clients
    # (README "Spark Connect"); the versions its 4.2.0 extra allows, with mlflow's protobuf (<8).
    "grpcio==1.85.3",
    "grpcio-status==1.85.3",
    "googleapis-common-protos==1.76.0",
    "zstandard==0.25.0",
]

DEV = [
    "pytest==9.2.0",
    # `make test` runs the suite's modules on two worker processes (--dist loadfile): most of a module's
    # time is JVM start-up, job subprocesses and small Spark jobs that leave a core idle.
    "pytest-xdist==3.8.0",
    "ruff==0.17.5",
    "import-linter==2.17",  # the layers contract in pyproject.toml (tests/test_architecture.py)
    "deltalake==1.6.6",  # independent (delta-rs) reader for cross-checks in tests
    "duckdb==2.0.0",  # independent oracle for gold-table tests
    "nbclient==0.11.0",
    "nbformat==5.11.1",
    "ipykernel==7.4.0",
    # BENCHMARKS.md's tables. Dev, not runtime: bench/ is a command run from a checkout (it is not in
    # the wheel, find_packages("libs")), and no job writes Markdown.
    "tabulate==0.10.0",
]

setup(
    name="lakepulse",
    version="0.1.0",
    description="Spark data lake processor: events, logs and cloud bills into Delta tables, KPIs and models",
    package_dir={"": "libs"},
    packages=find_packages("libs"),
    # The report's template is read at run time (PackageLoader), from the wheel or the spark-submit zip.
    package_data={"lakepulse": ["py.typed", "templates/*.j2"]},
    python_requires=">=3.11,<3.13",  # numpy 2.4, scipy 1.17, scikit-learn 1.9 need 3.11
    install_requires=RUNTIME,
    extras_require={"dev": DEV},
)
