"""Pieces every service's contract uses."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

HEALTH = "health"  # every service answers this RPC with a Health payload


class Model(BaseModel):
    """Base for contract payloads: unknown fields are refused, so typos fail loudly."""

    model_config = ConfigDict(extra="forbid", frozen=False)


class NoArguments(Model):
    """The request of an RPC that takes no arguments (`health`): sent as no keyword at all,
    so the wire call stays `health()`."""


class Health(Model):
    service: str
    status: str = "ok"
    details: dict[str, str] = {}
