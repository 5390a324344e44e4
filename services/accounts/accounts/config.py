"""Settings of the accounts service process, read from environment variables."""

from __future__ import annotations

from pydantic import Field

from medcode_common.settings import ServiceSettings, read_settings

DEV_TOKEN_SECRET = "dev-only-token-secret-change-me-in-production"


class AccountsSettings(ServiceSettings):
    DEV_SECRETS = {"TOKEN_SECRET": DEV_TOKEN_SECRET}  # refused in production

    TOKEN_SECRET: str = DEV_TOKEN_SECRET
    TOKEN_TTL_SECONDS: int = Field(default=7 * 24 * 3600, ge=60, le=90 * 24 * 3600)
    # argon2id cost (argon2-cffi's defaults, RFC 9106 low-memory profile); tests lower them.
    ARGON2_TIME_COST: int = Field(default=3, ge=1, le=20)
    ARGON2_MEMORY_KIB: int = Field(default=65536, ge=8, le=4 * 1024 * 1024)
    ARGON2_PARALLELISM: int = Field(default=4, ge=1, le=64)
    PASSWORD_MIN_LENGTH: int = Field(default=8, ge=1, le=128)
    # Failed log-ins per email and client IP: this many are free, then each further
    # attempt waits LOGIN_LOCKOUT_SECONDS, doubling per failure up to the maximum.
    LOGIN_FREE_ATTEMPTS: int = Field(default=5, ge=1, le=100)
    LOGIN_LOCKOUT_SECONDS: int = Field(default=30, ge=1, le=3600)
    LOGIN_LOCKOUT_MAX_SECONDS: int = Field(default=900, ge=1, le=86400)
    LOGIN_FAILURE_WINDOW_SECONDS: int = Field(default=86400, ge=60)  # failures older than this are forgotten
    # Password hashes (argon2id, ARGON2_MEMORY_KIB each) computed at once per process: the
    # rest wait their turn. This many times ARGON2_MEMORY_KIB must fit the process's memory
    # beside its ~150 MiB (the pod's limit is 512 MiB).
    ARGON2_MAX_CONCURRENT: int = Field(default=3, ge=1, le=64)
    # Failed log-ins per hour from one client address (any email), and for one account
    # (from any address); past them, log-ins wait until the hour is over.
    LOGIN_ADDRESS_FAILURES_PER_HOUR: int = Field(default=100, ge=1)
    LOGIN_ACCOUNT_FAILURES_PER_HOUR: int = Field(default=20, ge=1)
    # Registration attempts per client address per hour, and new accounts per client
    # address per UTC day.
    REGISTER_ATTEMPTS_PER_ADDRESS_PER_HOUR: int = Field(default=20, ge=1)
    ACCOUNTS_PER_ADDRESS_PER_DAY: int = Field(default=5, ge=1)


def load_accounts_settings(**overrides) -> AccountsSettings:
    return read_settings(AccountsSettings, "accounts configuration", show_values=False, **overrides)
