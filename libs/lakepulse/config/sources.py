"""pydantic-settings' sources as lakepulse reads them: one-line errors naming the file and the key,
`--set` items and a given environment mapping as variables, empty YAML sections as "nothing differs".
"""

from __future__ import annotations

import typing
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_settings import EnvSettingsSource, YamlConfigSettingsSource

from lakepulse.errors import ConfigError

ENV_PREFIX = "LAKEPULSE__"


class YamlFile(YamlConfigSettingsSource):
    """pydantic-settings' YAML source, with its read and parse failures as one-line ConfigErrors."""

    def __init__(self, settings_cls, *, sections: typing.Collection[str], **kwargs) -> None:
        self._sections = frozenset(sections)  # read by _read_file, which the base class calls at once
        super().__init__(settings_cls, **kwargs)

    def _read_file(self, file_path) -> dict[str, Any]:
        name = str(file_path)
        try:
            data = super()._read_file(file_path)
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read config file ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(f"{name}: not valid YAML{where}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{name}: expected a mapping at the top level")
        # A section left with only comments under it (`gold:`) means nothing differs there.
        return {key: value for key, value in data.items() if not (value is None and key in self._sections)}


class Variables(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping rather than os.environ: load_config's
    `environ`, or the `--set` items (as `section__key` names, case kept for Spark's keys). Values are
    strings, converted to each key's type as an environment variable's are."""

    def __init__(self, settings_cls, variables: typing.Mapping[str, str], **kwargs) -> None:
        self._variables = variables
        super().__init__(settings_cls, **kwargs)

    def _load_env_vars(self) -> typing.Mapping[str, str | None]:
        if self.case_sensitive:
            return dict(self._variables)
        return {name.lower(): value for name, value in self._variables.items()}


def set_variables(
    overrides: typing.Iterable[str], name: str, sections: typing.Collection[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """`--set section.key=value` items as `section__key` variables, and the dotted keys they set."""
    variables: dict[str, str] = {}
    keys: dict[str, str] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, for example spark.master=local[2]")
        key, value = item.split("=", 1)
        key = key.strip()
        parts = key.split(".")
        # spark.conf holds free-form Spark keys, which themselves contain dots.
        if parts[:2] == ["spark", "conf"] and len(parts) > 2:
            parts = ["spark", "conf", ".".join(parts[2:])]
        if parts[0] not in sections or not all(parts):
            raise ConfigError(f"{name}: unknown key {key!r} (from --set)")
        variables["__".join(parts)] = value
        keys[".".join(parts)] = "--set"
    return variables, keys


def check_environment(
    environ: typing.Mapping[str, str], name: str, sections: typing.Collection[str]
) -> dict[str, str]:
    """The dotted keys that LAKEPULSE__* variables set; a variable naming no section is an error (the
    library would ignore it)."""
    keys: dict[str, str] = {}
    for var in environ:
        if not var.upper().startswith(ENV_PREFIX) or len(var) == len(ENV_PREFIX):
            continue
        key = ".".join(part.lower() for part in var[len(ENV_PREFIX) :].split("__"))
        if key.split(".")[0] not in sections:
            raise ConfigError(f"{name}: unknown key {key!r} (from environment variable {var})")
        keys[key] = f"environment variable {var}"
    return keys


_EXPECTED = {
    "int_type": "int",
    "bool_type": "bool",
    "string_type": "str",
    "float_type": "float",
    "dict_type": "a mapping",
    "model_type": "a section (mapping)",
}


def describe(exc: ValidationError, *origins: typing.Mapping[str, str]) -> str:
    """pydantic's report folded into one line: the first error's key and problem, and where it was set
    when that was not the file."""
    errors = exc.errors(include_url=False)
    error = errors[0]
    key = ".".join(str(part) for part in error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        text = f"unknown key {key!r}"
    elif kind == "missing":
        text = f"missing key {key!r}"
    elif kind in _EXPECTED:
        value = repr(error.get("input"))
        value = value if len(value) <= 60 else value[:57] + "..."
        text = f"key {key!r}: expected {_EXPECTED[kind]}, got {type(error.get('input')).__name__} ({value})"
    else:
        text = f"key {key!r}: {error['msg'].removeprefix('Value error, ')}"
    origin = next((o[key] for o in origins if key in o), None)
    if origin:
        text += f" (from {origin})"
    if len(errors) > 1:
        text += f"; and {len(errors) - 1} more"
    return text
