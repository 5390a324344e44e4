"""Platform configuration, read from environment variables.

Defaults work on a laptop. A wrong value stops the process at start with a message that
names the variable, instead of failing later somewhere far from the cause.

Each process has one settings class, composed from the pieces here (one piece per concern,
each variable defined once) and its own fields:

    class AccountsSettings(ServiceSettings):         # environment, broker, database, health, retries
        DEV_SECRETS = {"TOKEN_SECRET": DEV_TOKEN_SECRET}   # refused in production
        TOKEN_SECRET: str = DEV_TOKEN_SECRET

The command-line tools (dead letters, event tail, the launcher, benchmarks) read
`Settings`, the pieces every part of the platform shares.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, ClassVar, TypeVar
from urllib.parse import urlparse

from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def _url_of(schemes: tuple[str, ...], refusal: str) -> AfterValidator:
    def check(value: str) -> str:
        if urlparse(value).scheme not in schemes:
            raise ValueError(refusal)
        return value

    return AfterValidator(check)


AmqpUrl = Annotated[
    str,
    _url_of(("amqp", "amqps", "pyamqp"), "must be an amqp:// or amqps:// URL, e.g. amqp://guest:guest@127.0.0.1:5672/"),
]
HttpUrl = Annotated[str, _url_of(("http", "https"), "must be an http:// or https:// URL")]


class ConfigError(Exception):
    """A configuration variable has a value the platform cannot use."""


def settings_or_exit(load: Callable[[], SettingsT]) -> SettingsT:
    """For entry points: the settings `load` reads, or one line on stderr naming the bad
    variable and exit status 2 (a mistake in the configuration, not a crash to trace)."""
    try:
        return load()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def normalise_database_url(url: str) -> str:
    """The one place database URLs are normalised: PostgreSQL URLs that name no driver
    (`postgres://`, as hosting platforms hand them out, or `postgresql://`) use psycopg 3,
    the driver we ship; SQLAlchemy's default for them is psycopg2, which is not installed."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare) :]
    return url


class Environment(str, Enum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class SearchBackend(str, Enum):
    EMBEDDED = "embedded"  # tantivy, in-process: no server to run
    ELASTICSEARCH = "elasticsearch"


class EnvSettings(BaseSettings):
    """Variables are read by their exact names; other variables are no concern of ours."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore")


class EnvironmentSettings(EnvSettings):
    """ENVIRONMENT, and the secrets with a development default that production refuses."""

    ENVIRONMENT: Environment = Environment.DEVELOPMENT
    # field name -> its development default; set by the settings classes that hold secrets.
    DEV_SECRETS: ClassVar[dict[str, str]] = {}
    MIN_SECRET_LENGTH: ClassVar[int] = 32

    @property
    def production(self) -> bool:
        return self.ENVIRONMENT is Environment.PRODUCTION

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self):
        if self.production:
            for name, development_value in self.DEV_SECRETS.items():
                value = getattr(self, name)
                if value == development_value:
                    raise ValueError(f"{name} must be set in production (e.g. openssl rand -hex 32)")
                if len(value) < self.MIN_SECRET_LENGTH:
                    raise ValueError(f"{name} must be at least {self.MIN_SECRET_LENGTH} characters in production")
        return self


class BrokerSettings(EnvSettings):
    AMQP_URI: AmqpUrl = "amqp://guest:guest@127.0.0.1:5672/"


class RpcClientSettings(BrokerSettings):
    """Processes that call services over RPC from outside Nameko (gateway, mail ingress)."""

    RPC_TIMEOUT: float = Field(default=5.0, gt=0, le=300)


class DataDirSettings(EnvSettings):
    DATA_DIR: Path = Path("./var")


class DatabaseSettings(DataDirSettings):
    # Empty: one SQLite file per service under DATA_DIR.
    DATABASE_URL: str | None = None

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_scheme(cls, value: str | None) -> str | None:
        if not value:
            return None
        scheme = urlparse(value).scheme.split("+")[0]
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return normalise_database_url(value)

    def database_url(self, service: str) -> str:
        """The SQLAlchemy URL a service stores its data at."""
        if self.DATABASE_URL:
            return self.DATABASE_URL
        return f"sqlite:///{(self.DATA_DIR / f'{service}.sqlite3').resolve()}"


class MirrorSettings(EnvSettings):
    # A directory laid out like the official download sites' mirror (../shared/data).
    DATA_MIRROR: Path | None = None

    @field_validator("DATA_MIRROR")
    @classmethod
    def _mirror_exists(cls, value: Path | None) -> Path | None:
        if value is not None and str(value) and not value.is_dir():
            raise ValueError(f"{value} is not a directory")
        return value or None


class SearchSettings(DataDirSettings):
    """The search index of codes and careers (the embedded one lives under DATA_DIR)."""

    SEARCH_BACKEND: SearchBackend = SearchBackend.EMBEDDED
    ELASTICSEARCH_URL: HttpUrl = "http://127.0.0.1:9200"


class MailRelaySettings(EnvSettings):
    # Where outgoing mail (assistant replies, job alerts) is handed over, as host:port;
    # in development `make run` starts a relay there that keeps mail in DATA_DIR/outbox.
    SMTP_RELAY: str = "127.0.0.1:2526"

    @field_validator("SMTP_RELAY")
    @classmethod
    def _relay_address(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port, e.g. 127.0.0.1:2526")
        return value


class GatewayAddressSettings(EnvSettings):
    """Where the gateway listens (the gateway itself, and the launcher that waits for it)."""

    GATEWAY_HOST: str = "127.0.0.1"
    GATEWAY_PORT: int = Field(default=8000, ge=1, le=65535)


class HealthSettings(EnvSettings):
    """A service process's own /healthz and /readyz (medcode_common.health)."""

    HEALTH_PORT: int = Field(default=0, ge=0, le=65535)
    HEALTH_HOST: str = "0.0.0.0"


class DeadLetterSettings(EnvSettings):
    """Event handlers' retries before an event is parked (medcode_common.dead_letters)."""

    EVENT_MAX_ATTEMPTS: int = Field(default=5, ge=1, le=100)
    EVENT_RETRY_DELAY: float = Field(default=1.0, gt=0, le=3600)
    EVENT_RETRY_MAX_DELAY: float = Field(default=300.0, gt=0)


class ServiceSettings(EnvironmentSettings, BrokerSettings, DatabaseSettings, HealthSettings, DeadLetterSettings):
    """What every Nameko service process reads (medcode_common.runner); each service's
    settings class adds its own fields (and pieces) to it."""


class Settings(
    RpcClientSettings, DatabaseSettings, MirrorSettings, SearchSettings, MailRelaySettings, GatewayAddressSettings
):
    """The pieces every part of the platform shares, for the command-line tools."""


def read_settings(
    cls: type[SettingsT], label: str = "configuration", show_values: bool = True, **overrides
) -> SettingsT:
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
