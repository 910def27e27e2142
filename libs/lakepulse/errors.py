"""Typed errors: each carries one line for the user, and the exit code the job ends with."""


class LakepulseError(Exception):
    """A failure the user can act on; its message is one line, and it exits non-zero."""

    exit_code = 1


class UsageError(LakepulseError):
    """Bad command-line input: unknown job, source or environment, missing path."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration file or override that does not fit the typed configuration."""


class MissingJarsError(LakepulseError):
    """Delta Lake's JVM artifacts are neither cached nor fetchable."""


class DataQualityError(LakepulseError):
    """An expectation with action `fail` was broken."""


class DeltaConflictError(LakepulseError):
    """A Delta commit kept losing to concurrent commits (or was not safe to retry): run the job again."""
