"""Refine bronze into silver Delta tables: typed, conformed, deduplicated and pseudonymised.

Incremental: only the ingest batches not refined yet are read. Running it again changes nothing; a
run killed midway is completed by the next one. See lakepulse.silver.runner.
"""

import sys

from lakepulse.jobs.refine import main

if __name__ == "__main__":
    sys.exit(main())
