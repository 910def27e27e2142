"""Compacts every Delta table (OPTIMIZE, Z-ordered where readers filter), VACUUMs, reports files and bytes.

The same pass the small-file guard applies after each write, for the whole lake on a schedule.
"""

import sys

from lakepulse.jobs.maintain import main

if __name__ == "__main__":
    sys.exit(main())
