"""pixelspy.toml: validated configuration with sensible defaults when there is no file.

Looked up as ./pixelspy.toml, or given with --config PATH. Each section belongs to one part of
pixelspy (checks, consent, expectations); unknown keys are errors, so typos do not pass silently.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

DEFAULT_PATH = Path("pixelspy.toml")


class ConfigError(ValueError):
    pass


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChecksConfig(Section):
    duplicate_window_s: float = 2.0
    silence: list[str] = []  # finding codes never reported


class Config(Section):
    checks: ChecksConfig = ChecksConfig()


def load_config(path: str | Path | None = None) -> Config:
    """The config at `path`, else ./pixelspy.toml if present, else defaults."""
    p = Path(path) if path else DEFAULT_PATH
    if not p.exists():
        if path:
            raise ConfigError(f"{p}: no such file")
        return Config()
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{p}: {e}") from None
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        lines = [f"{p}: invalid configuration"]
        for err in e.errors():
            where = ".".join(str(x) for x in err["loc"])
            lines.append(f"  {where}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from None
