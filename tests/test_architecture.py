"""The layout's rules, checked on every run of the suite (docs/architecture.md).

The import contracts live in pyproject.toml ([tool.importlinter]); import-linter reads the code's
imports statically, so this costs about a second and starts no Spark.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from lakepulse.config import PROJECT_ROOT

MODULE_LINES = 400
FUNCTION_LINES = 60

# Modules and functions still over the limits, with their size when the limits were set: an entry
# may only shrink or go (issue 16 emptied it); a new offender fails at once.
OVERSIZE: dict[str, int] = {}


def test_imports_follow_the_layers():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache", str(PROJECT_ROOT / "pyproject.toml")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout and " KEPT" in done.stdout


def sizes(root: Path) -> dict[str, int]:
    """Every module over MODULE_LINES and every function (nested ones included, under their own name)
    over FUNCTION_LINES, with its length in lines; the longest when a name repeats in a module."""
    found: dict[str, int] = {}
    for path in sorted([*root.glob("libs/**/*.py"), *root.glob("jobs/*.py")]):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MODULE_LINES:
            found[rel] = lines
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                key = f"{rel}:{node.name}"
                if length > FUNCTION_LINES and length > found.get(key, 0):
                    found[key] = length
    return found


def test_no_module_or_function_grows_past_the_size_limits():
    found = sizes(PROJECT_ROOT)
    new = {k: v for k, v in found.items() if k not in OVERSIZE}
    grown = {k: (OVERSIZE[k], v) for k, v in found.items() if k in OVERSIZE and v > OVERSIZE[k]}
    assert not new, f"over {MODULE_LINES} lines per module or {FUNCTION_LINES} per function: {new}"
    assert not grown, f"known oversize entries grew (was, now): {grown}"


def test_the_size_check_sees_long_functions(tmp_path):
    body = "\n".join(f"        x{i} = {i}" for i in range(FUNCTION_LINES))
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "long.py").write_text(f"def outer():\n    def inner():\n{body}\n    return inner\n")
    found = sizes(tmp_path)
    assert found == {"jobs/long.py:outer": FUNCTION_LINES + 3, "jobs/long.py:inner": FUNCTION_LINES + 1}


def test_every_job_is_an_importable_entry_point_with_its_spark_submit_file():
    """jobs/<name>.py (spark-submit) and lakepulse.jobs.<name> (import, python -m) are the same job."""
    import importlib
    import pkgutil

    import lakepulse.jobs

    names = [m.name for m in pkgutil.iter_modules(lakepulse.jobs.__path__)]
    files = sorted(p.stem for p in (PROJECT_ROOT / "jobs").glob("*.py"))
    assert sorted([*names, "generate"]) == files
    for name in names:
        job = importlib.import_module(f"lakepulse.jobs.{name}").JOB
        assert (
            job.name == name
            and f"from lakepulse.jobs.{name} import main"
            in (PROJECT_ROOT / "jobs" / f"{name}.py").read_text(encoding="utf-8")
            or name == "pipeline"
        )
    done = subprocess.run(
        [sys.executable, "-m", "lakepulse.jobs.kpis", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.startswith("usage: lakepulse kpis"), done.stderr[-2000:]


def silver_or_bronze_paths(root: Path) -> set[str]:
    """`file:line` of every place a module under libs/lakepulse/ml names a silver or bronze table: a call
    given the layer as a literal argument (`table_path("silver", ...)`), or a literal "silver/<table>"
    (also as the start of an f-string)."""
    table = re.compile(r"(silver|bronze)/[a-z_]*")
    found = set()
    for path in sorted((root / "libs" / "lakepulse" / "ml").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                named = any(
                    isinstance(a, ast.Constant) and a.value in ("silver", "bronze") for a in node.args
                )
            else:
                named = isinstance(node, ast.Constant) and isinstance(node.value, str)
                named = named and table.fullmatch(node.value) is not None
            if named:
                found.add(f"{rel}:{node.lineno}")
    return found


def test_models_name_no_silver_or_bronze_table():
    """Models read gold only (issue 16): ml neither imports silver or bronze (pyproject.toml's contract)
    nor reaches their tables by path."""
    found = silver_or_bronze_paths(PROJECT_ROOT)
    assert not found, f"ml names silver/bronze tables at {sorted(found)}"


def test_the_silver_path_check_sees_a_silver_read(tmp_path):
    ml = tmp_path / "libs" / "lakepulse" / "ml"
    ml.mkdir(parents=True)
    (ml / "m.py").write_text(
        "def f(config, spark):\n"
        "    a = config.table_path('silver', 'events')\n"
        "    b = read_pinned(spark, config, 'bronze', 'events')\n"
        "    c = versions[f'silver/{name}']\n"
        "    d = config.table_path('gold', 'customer_features')\n"
        "    return a, b, c, d\n"
    )
    found = silver_or_bronze_paths(tmp_path)
    assert found == {"libs/lakepulse/ml/m.py:2", "libs/lakepulse/ml/m.py:3", "libs/lakepulse/ml/m.py:4"}


def test_the_product_has_no_test_hook_that_kills_its_own_process():
    """Fault injection is a test wrapper (tests/faults/crash.py), never a branch in the commit path."""
    hooks = []
    for path in sorted((PROJECT_ROOT / "libs").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and "getpid" in ast.dump(node) and "kill" in ast.dump(node.func):
                hooks.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}")
    assert not hooks, f"the product kills its own process at {hooks}"


# The driver JVM and the SparkContext exist only on a classic session, and delta-spark's DeltaTable
# needs Delta's Connect plugin on the server (InvalidPlanInput without it): a module using them cannot
# run over Spark Connect. Each allowed use is named here with its reason.
CLASSIC_ONLY = ("_jvm", "_jsc", "sparkContext", "DeltaTable")
CLASSIC_ONLY_ALLOWED = {
    # default_parallelism: SparkContext.defaultParallelism on a classic session, a stand-in over Connect.
    "libs/lakepulse/runtime/session.py": {"sparkContext"},
}


def classic_only_uses(root: Path) -> dict[str, set[str]]:
    """Per module under libs/, the names of CLASSIC_ONLY it uses as an attribute or a name (docstrings,
    comments and strings do not count)."""
    found: dict[str, set[str]] = {}
    for path in sorted(root.glob("libs/**/*.py")):
        rel = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
            if name in CLASSIC_ONLY:
                found.setdefault(rel, set()).add(name)
    return found


def test_no_driver_jvm_or_spark_context_in_the_library():
    found = classic_only_uses(PROJECT_ROOT)
    extra = {m: names - CLASSIC_ONLY_ALLOWED.get(m, set()) for m, names in found.items()}
    assert not {m: n for m, n in extra.items() if n}, (
        f"classic-only Spark APIs (not over Spark Connect): {extra}"
    )


def test_the_classic_only_check_sees_uses(tmp_path):
    (tmp_path / "libs" / "pkg").mkdir(parents=True)
    code = (
        '"""sparkContext in a docstring is fine."""\nfs = spark.sparkContext._jvm.org\nx = spark._jsc\n'
        "t = DeltaTable.forPath(spark, p)\n"
    )
    (tmp_path / "libs" / "pkg" / "m.py").write_text(code)
    assert classic_only_uses(tmp_path) == {"libs/pkg/m.py": {"sparkContext", "_jvm", "_jsc", "DeltaTable"}}
