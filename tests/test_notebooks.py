"""The notebooks run top to bottom on the sample lake the pipeline built (tests/conftest.py)."""

from __future__ import annotations

import os

import nbformat
import pytest
from nbclient import NotebookClient

from lakepulse.config import PROJECT_ROOT

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, pipeline_lake, monkeypatch):
    monkeypatch.setenv("LAKEPULSE_HOME", str(pipeline_lake.config.paths.home))
    # The kernel is a new process with its own Spark driver: keep it as small as the test session.
    monkeypatch.setenv("LAKEPULSE__SPARK__MASTER", "local[2]")
    monkeypatch.setenv("LAKEPULSE__SPARK__SHUFFLE_PARTITIONS", "2")
    book = nbformat.read(path, as_version=4)
    client = NotebookClient(
        book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(PROJECT_ROOT)}}
    )
    client.execute()
    errors = [
        o
        for c in book.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    assert not errors
    assert any(c.get("outputs") for c in book.cells if c.cell_type == "code")
    assert os.environ["LAKEPULSE_HOME"] == str(pipeline_lake.config.paths.home)
