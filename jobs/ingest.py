"""Ingest landing files into bronze Delta tables, quarantining bad records, as a batch or a stream.

Every record read is loaded, quarantined with a machine-readable reason, or dropped as a duplicate,
and bronze/ingest_audit says how many of each per source and batch. Running it again adds nothing; a
run killed midway is completed by the next one. See lakepulse.bronze.batch for the commit protocol.
"""

import sys

from lakepulse.jobs.ingest import main

if __name__ == "__main__":
    sys.exit(main())
