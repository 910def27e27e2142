"""The main job: generate (when no landing data), ingest, refine, features, kpis, models, score, report.

Runs each step's job in this process with one shared SparkSession, shows progress per step (step,
rows, seconds) and ends with a summary. A failed step stops the run naming the step; running again
continues safely because every step is idempotent. The sample data comes from the sample kit
(lakepulse_sample), which this entry file passes to the pipeline; the library never imports it.
"""

import sys

from lakepulse_sample.cli import PIPELINE

main = PIPELINE.main

if __name__ == "__main__":
    sys.exit(main())
