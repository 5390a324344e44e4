"""The gateway's RPC: the platform's asyncio client and the typed `invoke` over it
(medcode_common.aio_rpc, shared with the mail ingress)."""

from medcode_common.aio_rpc import RemoteError, RpcClient, UnknownService
from medcode_common.aio_rpc.typed import BadReply, ReplyT, RequestT, invoke

__all__ = ["RpcClient", "RemoteError", "UnknownService", "BadReply", "ReplyT", "RequestT", "invoke"]
