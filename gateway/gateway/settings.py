"""The gateway's configuration: the platform's Settings (medcode_common.settings), plus a
few gateway constants that need no knob yet."""
from __future__ import annotations

import ipaddress
import sys
from enum import Enum

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from medcode_common.settings import ConfigError, Settings, load_settings, read_settings

# /readyz asks every service's `health` RPC; a ready service answers in milliseconds, so
# a short timeout keeps the probe itself quick when one is down.
READY_TIMEOUT = 1.0
# How long the gateway keeps trying to reach the broker at start.
CONNECT_TIMEOUT = 30.0

__all__ = ["ConfigError", "Settings", "AuthSettings", "load", "load_auth", "load_or_exit",
           "READY_TIMEOUT", "CONNECT_TIMEOUT"]

DEV_GATEWAY_SECRET = "dev-only-gateway-secret-change-me-in-production"


class Environment(str, Enum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class AuthSettings(BaseSettings):
    """Guest ids, session cookies and client addresses (see gateway.auth)."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore")

    ENVIRONMENT: Environment = Environment.DEVELOPMENT
    # Signs guest-id cookies and CSRF tokens. Changing it starts every guest afresh
    # (the per-IP cap still holds).
    GATEWAY_SECRET: str = DEV_GATEWAY_SECRET
    # Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is
    # believed (e.g. "10.0.0.0/8,127.0.0.1"); empty: the TCP peer is the client.
    GATEWAY_TRUSTED_PROXIES: str = ""
    # Cookies only over HTTPS; unset: on in production, off otherwise (plain-HTTP dev).
    GATEWAY_COOKIE_SECURE: bool | None = None

    @field_validator("GATEWAY_TRUSTED_PROXIES")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @model_validator(mode="after")
    def _refuse_dev_secret_in_production(self):
        if self.ENVIRONMENT is Environment.PRODUCTION:
            if self.GATEWAY_SECRET == DEV_GATEWAY_SECRET:
                raise ValueError("GATEWAY_SECRET must be set in production (e.g. openssl rand -hex 32)")
            if len(self.GATEWAY_SECRET) < 32:
                raise ValueError("GATEWAY_SECRET must be at least 32 characters in production")
        return self

    @property
    def trusted_proxies(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return parse_networks(self.GATEWAY_TRUSTED_PROXIES)

    @property
    def cookie_secure(self) -> bool:
        if self.GATEWAY_COOKIE_SECURE is None:
            return self.ENVIRONMENT is Environment.PRODUCTION
        return self.GATEWAY_COOKIE_SECURE


def parse_networks(spec: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """"10.0.0.0/8, 127.0.0.1" -> networks; ValueError naming a bad entry."""
    networks = []
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
    return tuple(networks)


def load_auth(**overrides) -> AuthSettings:
    """Read the gateway's auth settings; raises ConfigError naming each bad variable."""
    return read_settings(AuthSettings, "gateway configuration", show_values=False, **overrides)


def load(**overrides) -> Settings:
    """Read the environment; raises ConfigError naming each bad variable."""
    return load_settings(**overrides)


def load_or_exit(**overrides) -> Settings:
    """For entry points: a bad variable prints one line naming it and exits with status 2."""
    try:
        settings = load_settings(**overrides)
        load_auth()  # checked here too, so a bad auth variable stops the start just the same
        return settings
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
