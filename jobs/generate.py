"""Generate deterministic raw sources (events, logs, billing, ...) with planted truth into the landing area.

Parameters come from the config section `generate`; the flags below override them for one run. The
same seed and parameters always give the same data, whatever the cluster size. `--events N` sizes the
run by its output instead: the customers are derived from N and the days. Before writing anything,
the job states on stderr (and in its log) how many lines and bytes it is about to write.
"""

import sys

from lakepulse_sample.cli import GENERATE

main = GENERATE.main

if __name__ == "__main__":
    sys.exit(main())
