"""How lakepulse runs on Spark, with no knowledge of the lake's data: the one session factory and its
settings, Delta's jars, Delta I/O helpers, paths, the jobs' command line and the standalone cluster
launcher."""
