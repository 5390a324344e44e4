"""Platform configuration, read from environment variables.

Defaults work on a laptop. A wrong value stops the process at start with a message that
names the variable, instead of failing later somewhere far from the cause.
"""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(Exception):
    """A configuration variable has a value the platform cannot use."""


class SearchBackend(str, Enum):
    EMBEDDED = "embedded"          # tantivy, in-process: no server to run
    ELASTICSEARCH = "elasticsearch"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore")

    AMQP_URI: str = "amqp://guest:guest@127.0.0.1:5672/"
    DATA_DIR: Path = Path("./var")
    # A directory laid out like the official download sites' mirror (../shared/data).
    DATA_MIRROR: Path | None = None
    # Empty: one SQLite file per service under DATA_DIR.
    DATABASE_URL: str | None = None
    SEARCH_BACKEND: SearchBackend = SearchBackend.EMBEDDED
    ELASTICSEARCH_URL: str = "http://127.0.0.1:9200"
    GATEWAY_HOST: str = "127.0.0.1"
    GATEWAY_PORT: int = Field(default=8000, ge=1, le=65535)
    RPC_TIMEOUT: float = Field(default=5.0, gt=0, le=300)
    # Search results cached per gateway process (0 turns the cache off); cleared when a
    # code-set edition is loaded, and never older than the TTL in seconds.
    GATEWAY_SEARCH_CACHE_SIZE: int = Field(default=4096, ge=0)
    GATEWAY_SEARCH_CACHE_TTL: float = Field(default=60.0, gt=0)
    # Where outgoing mail (assistant replies, job alerts) is handed over, as host:port;
    # in development `make run` starts a relay there that keeps mail in DATA_DIR/outbox.
    SMTP_RELAY: str = "127.0.0.1:2526"

    @field_validator("AMQP_URI")
    @classmethod
    def _amqp_scheme(cls, value: str) -> str:
        if urlparse(value).scheme not in ("amqp", "amqps", "pyamqp"):
            raise ValueError("must be an amqp:// or amqps:// URL, e.g. amqp://guest:guest@127.0.0.1:5672/")
        return value

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_scheme(cls, value: str | None) -> str | None:
        if not value:
            return None
        scheme = urlparse(value).scheme.split("+")[0]
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value

    @field_validator("ELASTICSEARCH_URL")
    @classmethod
    def _http_scheme(cls, value: str) -> str:
        if urlparse(value).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("SMTP_RELAY")
    @classmethod
    def _relay_address(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port, e.g. 127.0.0.1:2526")
        return value

    @field_validator("DATA_MIRROR")
    @classmethod
    def _mirror_exists(cls, value: Path | None) -> Path | None:
        if value is not None and str(value) and not value.is_dir():
            raise ValueError(f"{value} is not a directory")
        return value or None

    def database_url(self, service: str) -> str:
        """The SQLAlchemy URL a service stores its data at."""
        if self.DATABASE_URL:
            url = self.DATABASE_URL
            return url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url
        return f"sqlite:///{(self.DATA_DIR / f'{service}.sqlite3').resolve()}"


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def read_settings(cls: type[SettingsT], label: str = "configuration", show_values: bool = True,
                  **overrides) -> SettingsT:
    """`cls` read from the environment; ConfigError naming each bad variable. Settings that
    hold secrets pass show_values=False, so a wrong secret is never printed."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]) or "settings"
            value = f"={error.get('input')!r}" if show_values and error["loc"] else ""
            problems.append(f"{name}{value}: {error['msg']}")
        raise ConfigError(f"invalid {label}: " + "; ".join(problems)) from None


def load_settings(**overrides) -> Settings:
    """Read the environment; raise ConfigError naming each bad variable."""
    return read_settings(Settings, **overrides)
