"""The gateway's configuration: one GatewaySettings per process, composed from the shared
pieces (medcode_common.settings: environment, broker and RPC, listening address) and the
gateway's own (auth, limits, caches); plus a few constants that need no knob yet."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator

from medcode_common.settings import (
    ConfigError,
    Environment,
    EnvironmentSettings,
    GatewayAddressSettings,
    RpcClientSettings,
    read_settings,
    settings_or_exit,
)

# /readyz asks every service's `health` RPC; a ready service answers in milliseconds, so
# a short timeout keeps the probe itself quick when one is down.
READY_TIMEOUT = 1.0
# How long the gateway keeps trying to reach the broker at start.
CONNECT_TIMEOUT = 30.0

__all__ = [
    "ConfigError",
    "Environment",
    "GatewaySettings",
    "Settings",
    "AuthSettings",
    "LimitSettings",
    "load",
    "load_auth",
    "load_limits",
    "load_or_exit",
    "READY_TIMEOUT",
    "CONNECT_TIMEOUT",
]

DEV_GATEWAY_SECRET = "dev-only-gateway-secret-change-me-in-production"
# The accounts service's development default: the gateway checks the tokens accounts signs.
DEV_TOKEN_SECRET = "dev-only-token-secret-change-me-in-production"


class AuthSettings(EnvironmentSettings):
    """Guest ids, session cookies and client addresses (see gateway.auth)."""

    DEV_SECRETS = {"GATEWAY_SECRET": DEV_GATEWAY_SECRET, "TOKEN_SECRET": DEV_TOKEN_SECRET}  # refused in production

    # Signs guest-id cookies and CSRF tokens. Changing it starts every guest afresh
    # (the per-IP cap still holds).
    GATEWAY_SECRET: str = DEV_GATEWAY_SECRET
    # Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is
    # believed (e.g. "10.0.0.0/8,127.0.0.1"); empty: the TCP peer is the client.
    GATEWAY_TRUSTED_PROXIES: str = ""
    # Cookies only over HTTPS; unset: on in production, off otherwise (plain-HTTP dev).
    GATEWAY_COOKIE_SECURE: bool | None = None
    # The secret accounts signs session tokens with (the same variable as the accounts
    # service's): the gateway checks a token's signature and expiry itself (gateway.sessions).
    TOKEN_SECRET: str = DEV_TOKEN_SECRET
    # How long the account of a session checked with accounts is kept (0: ask accounts on
    # every request), and for how many sessions. Logout, plan changes and deletions drop it
    # at once by event; this bounds what no event announces (a role given by the CLI).
    GATEWAY_SESSION_CACHE_SECONDS: float = Field(default=60.0, ge=0, le=3600)
    GATEWAY_SESSION_CACHE_SIZE: int = Field(default=10_000, ge=0, le=1_000_000)

    @field_validator("GATEWAY_TRUSTED_PROXIES")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @property
    def trusted_proxies(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return parse_networks(self.GATEWAY_TRUSTED_PROXIES)

    @property
    def cookie_secure(self) -> bool:
        if self.GATEWAY_COOKIE_SECURE is None:
            return self.production
        return self.GATEWAY_COOKIE_SECURE


class LimitSettings(EnvironmentSettings):
    """What the gateway refuses before any GraphQL work, and what it shows strangers (gateway.limits)."""

    GATEWAY_MAX_BODY_BYTES: int = Field(default=64 * 1024, ge=1024, le=64 * 1024 * 1024)
    RATE_LIMIT_PER_MINUTE: int = Field(default=300, ge=0)
    # Unset: on outside production, off in production.
    GATEWAY_GRAPHIQL: bool | None = None
    GATEWAY_INTROSPECTION: bool | None = None
    GATEWAY_ERROR_DETAILS: bool | None = None
    # Other origins whose pages may open the GraphQL websocket (comma-separated,
    # e.g. "https://app.example.org"); the gateway's own origin always may.
    GATEWAY_ALLOWED_ORIGINS: str = ""

    def _unless_production(self, value: bool | None) -> bool:
        return not self.production if value is None else value

    @property
    def graphiql(self) -> bool:
        return self._unless_production(self.GATEWAY_GRAPHIQL)

    @property
    def introspection(self) -> bool:
        return self._unless_production(self.GATEWAY_INTROSPECTION)

    @property
    def error_details(self) -> bool:
        return self._unless_production(self.GATEWAY_ERROR_DETAILS)

    @property
    def allowed_origins(self) -> list[str]:
        return [origin.strip().rstrip("/") for origin in self.GATEWAY_ALLOWED_ORIGINS.split(",") if origin.strip()]


class GatewaySettings(AuthSettings, LimitSettings, RpcClientSettings, GatewayAddressSettings):
    """Everything the gateway process reads."""

    # Search results cached per gateway process (0 turns the cache off); cleared when a
    # code-set edition is loaded, and never older than the TTL in seconds.
    GATEWAY_SEARCH_CACHE_SIZE: int = Field(default=4096, ge=0)
    GATEWAY_SEARCH_CACHE_TTL: float = Field(default=60.0, gt=0)
    # Code pages (get_codes replies, "no such code" too) and their rules sections
    # (get_code_rules replies), the same way (gateway.edition_cache). The meter is still asked
    # on every view: these save only the codes service's RPC.
    GATEWAY_CODE_PAGE_CACHE_SIZE: int = Field(default=2048, ge=0)
    GATEWAY_CODE_PAGE_CACHE_TTL: float = Field(default=600.0, gt=0)
    GATEWAY_CODE_RULES_CACHE_SIZE: int = Field(default=2048, ge=0)
    GATEWAY_CODE_RULES_CACHE_TTL: float = Field(default=600.0, gt=0)


Settings = GatewaySettings  # the name gateway.app annotates with


def parse_networks(spec: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """ "10.0.0.0/8, 127.0.0.1" -> networks; ValueError naming a bad entry."""
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


def load_limits(**overrides) -> LimitSettings:
    return read_settings(LimitSettings, "gateway configuration", show_values=True, **overrides)


def load(**overrides) -> GatewaySettings:
    """Read the environment; raises ConfigError naming each bad variable (never a secret's value)."""
    return read_settings(GatewaySettings, "gateway configuration", show_values=False, **overrides)


def load_or_exit(**overrides) -> GatewaySettings:
    """For entry points: a bad variable prints one line naming it and exits with status 2."""
    return settings_or_exit(lambda: load(**overrides))
