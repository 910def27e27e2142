"""The layout's rules, checked on every run of the suite (docs/architecture.md).

The import contracts live in pyproject.toml ([tool.importlinter]); import-linter reads the code's
imports statically, so this costs about a second and starts no Spark.
"""

from __future__ import annotations

import ast
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


def test_the_product_has_no_test_hook_that_kills_its_own_process():
    """Fault injection is a test wrapper (tests/faults/crash.py), never a branch in the commit path."""
    hooks = []
    for path in sorted((PROJECT_ROOT / "libs").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and "getpid" in ast.dump(node) and "kill" in ast.dump(node.func):
                hooks.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}")
    assert not hooks, f"the product kills its own process at {hooks}"
