"""Re-renders BENCHMARKS.md from the bench's raw figures, without measuring anything.

    python -m bench.report [--reanalyse] [bench/results.json] [BENCHMARKS.md]

The pieces: bench/verdicts.py judges the figures against the targets (its docstring defines every
ratio), bench/render.py lays out the document and bench/<part>_report.py each part's sections;
bench/results_file.py reads and writes results.json. This module is only the command, so re-rendering
needs neither Spark nor the measuring command (bench/run.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.render import render
from bench.results_file import ROOT, reanalyse, reconcile_again, write_results
from bench.verdicts import evaluate


def main(argv: list[str] | None = None) -> int:
    """python -m bench.report [--reanalyse] [results.json] [BENCHMARKS.md]

    --reanalyse re-reads the run's event logs and lakes (kept in the work folder) with the current
    bench.eventlog and bench.reconcile and saves the summaries into results.json before rendering: same
    run, same figures, new analysis.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    again = "--reanalyse" in argv
    argv = [a for a in argv if a != "--reanalyse"]
    src = Path(argv[0]) if argv else ROOT / "bench" / "results.json"
    dst = Path(argv[1]) if len(argv) > 1 else ROOT / "BENCHMARKS.md"
    results = json.loads(src.read_text(encoding="utf-8"))
    if again:
        print(f"re-analysed {reanalyse(results)} event logs, reconciled {reconcile_again(results)} lakes")
    results["summary"] = evaluate(results)
    if again:
        write_results(results, src)
    dst.write_text(render(results, json_path=str(src)), encoding="utf-8")
    print(f"wrote {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
