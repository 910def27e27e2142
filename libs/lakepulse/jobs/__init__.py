"""Every job as an importable `Job` (lakepulse.runtime.cli): jobs/<name>.py only calls its `main`.

`pipeline` runs the others in one process and one SparkSession through `Job.invoke`, so a failed step
is an exception naming the step, never a line scraped from stderr.
"""
