"""Nameko AMQP RPC from asyncio."""
from .client import RpcClient
from .errors import RemoteError, UnknownService

__all__ = ["RpcClient", "RemoteError", "UnknownService"]
