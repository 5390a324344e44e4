"""The per-request GraphQL context: cheap to build (the DataLoader is made on first use)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from .rpc import RpcClient


@dataclass
class Context:
    rpc: RpcClient
    request: Any = None      # starlette Request or WebSocket (None in schema tests)
    response: Any = None
    rpc_timeout: float | None = None  # None: the client's default
    _loaders: dict[str, DataLoader] = field(default_factory=dict)

    def loader(self, name: str, factory) -> DataLoader:
        """The request's DataLoader called `name`, made by `factory(self)` on first use."""
        loader = self._loaders.get(name)
        if loader is None:
            loader = self._loaders[name] = factory(self)
        return loader
