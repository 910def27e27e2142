"""The notebooks run top to bottom on the sample lake the pipeline built (tests/conftest.py).

They share one kernel, as a person running them one after the other would: its Spark driver starts
once (the notebooks' `build_session` returns the running session). Each notebook starts from an empty
namespace (`%reset -f` first), so none can lean on what an earlier one defined.
"""

from __future__ import annotations

import os

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from lakepulse.config import PROJECT_ROOT

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
RESET = "get_ipython().run_line_magic('reset', '-f')"


@pytest.fixture(scope="module")
def kernel(pipeline_lake):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEPULSE")}
    env["LAKEPULSE_HOME"] = str(pipeline_lake.config.paths.home)
    # The kernel is a new process with its own Spark driver: keep it as small as the test session.
    env["LAKEPULSE__SPARK__MASTER"] = "local[2]"
    env["LAKEPULSE__SPARK__SHUFFLE_PARTITIONS"] = "2"
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(PROJECT_ROOT), env=env)
    yield km
    km.shutdown_kernel(now=True)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, kernel):
    book = nbformat.read(path, as_version=4)
    book.cells.insert(0, nbformat.v4.new_code_cell(RESET))
    NotebookClient(book, km=kernel, timeout=600).execute()
    cells = [c for c in book.cells[1:] if c.cell_type == "code"]
    errors = [o for c in cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    assert all(c.get("execution_count") for c in cells)  # every cell ran
    assert any(c.get("outputs") for c in cells)
