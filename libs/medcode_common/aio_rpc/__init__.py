"""Nameko AMQP RPC from asyncio processes (the gateway, the mail ingress): one client on
aio-pika that speaks Nameko's exact protocol, without importing Nameko or eventlet.

    async with RpcClient(amqp_uri, caller="mail-ingress") as rpc:
        account = await rpc.call("accounts", "find_account", request={"email": email})
"""

from .client import RpcClient
from .errors import RemoteError, UnknownService

__all__ = ["RpcClient", "RemoteError", "UnknownService"]
