"""Who may see a code page's premium sections.

One small async step between loading a page and returning it, so metering can plug in
here (ask the metering service, record the view) without touching the resolvers.
"""
from __future__ import annotations

from medcode_contracts import codes as contract

from ...context import Context
from .types import Access

OPEN_ACCESS = Access(granted=True, remaining=None, limit=None, reason=None)


async def check_access(context: Context, page: contract.CodePage) -> Access:
    """Until metering lands, every page is open and unlimited."""
    return OPEN_ACCESS
