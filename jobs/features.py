"""Gold customer features: one point-in-time row per customer and as-of date, computed incrementally.

Reads silver events (only the 90 days the windows need), customer history, prices and weather; writes
gold/customer_features, replacing the computed as-of dates. Default: every as-of date not yet
computed up to the day after the last complete silver day. See docs/gold.md.
"""

import sys

from lakepulse.jobs.features import main

if __name__ == "__main__":
    sys.exit(main())
