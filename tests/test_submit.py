"""spark-submit.sh: the one launcher, its help, and its one-line errors with exit code 2."""

from __future__ import annotations

import subprocess

import pytest

from lakepulse.config import PROJECT_ROOT

SUBMIT = str(PROJECT_ROOT / "spark-submit.sh")


def submit(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([SUBMIT, *args], capture_output=True, text=True, timeout=300, env=env)


def test_help_lists_every_job_with_one_line():
    result = submit("--help")
    assert result.returncode == 0
    jobs = sorted(p.stem for p in (PROJECT_ROOT / "jobs").glob("*.py"))
    listed = [
        line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ") and line.split()
    ]
    assert sorted(listed) == jobs
    for line in result.stdout.splitlines():
        if line.startswith("  ") and line.split()[0] in jobs:
            assert len(line.split()) > 2, f"job without a description: {line!r}"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("no_such_job",), "unknown job 'no_such_job'"),
        (("--env", "staging", "pipeline"), "unknown environment 'staging'"),
    ],
)
def test_unknown_job_or_environment_is_one_line_and_exit_2(args, needle):
    result = submit(*args)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0]
