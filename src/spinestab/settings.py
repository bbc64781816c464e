"""Settings from the environment (``SPINESTAB_*``), never global mutable state."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "default_data_dir", "get_settings"]


def default_data_dir() -> Path:
    """Return the user's data folder for spinestab (not created here)."""
    return Path(user_data_dir("spinestab", appauthor=False))


class Settings(BaseSettings):
    """Run-time settings.

    Every field can be set with an environment variable ``SPINESTAB_<NAME>``, e.g.
    ``SPINESTAB_DATABASE_URL=postgresql+psycopg://user@host/db``.
    """

    model_config = SettingsConfigDict(env_prefix="SPINESTAB_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    language: Literal["en", "de"] = "en"
    jurisdiction: Literal["NICE", "ACP"] = "NICE"
    weights_dir: Path | None = None
    user: str = "cli"

    @field_validator("language", mode="before")
    @classmethod
    def _language_case(cls, value: object) -> object:
        """Accept ``DE`` or `` de `` for ``de``."""
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("jurisdiction", mode="before")
    @classmethod
    def _jurisdiction_case(cls, value: object) -> object:
        """Accept ``acp`` for ``ACP``."""
        return value.strip().upper() if isinstance(value, str) else value

    def resolved_database_url(self) -> str:
        """Return the database URL: the configured one, or SQLite in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'spinestab.sqlite3').as_posix()}"


def get_settings() -> Settings:
    """Read the settings from the environment now."""
    return Settings()
