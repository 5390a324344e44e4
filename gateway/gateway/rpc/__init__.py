"""The gateway's RPC: the platform's asyncio client (medcode_common.aio_rpc) and the typed
`invoke` over it (gateway.rpc.typed)."""

from medcode_common.aio_rpc import RemoteError, RpcClient, UnknownService

__all__ = ["RpcClient", "RemoteError", "UnknownService"]
