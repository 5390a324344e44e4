"""Opaque page cursors of the search services: a hit's 1-based position in a result list
behind a version tag (`v1:40`, `jobs1:40`), base64url-encoded without padding. Each service
keeps its own tag, so a cursor of one is refused by the other."""

from __future__ import annotations

import base64
import binascii


def encode_position(tag: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{tag}:{position}".encode()).decode().rstrip("=")


def decode_position(tag: str, cursor: str, max_digits: int | None = None) -> int | None:
    """The position in a cursor made by encode_position(tag, ...); None when it is not one
    (malformed, another tag, or a number of more than `max_digits` digits)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        version, _, number = raw.partition(":")
        if version != tag or not number.isdigit() or (max_digits is not None and len(number) > max_digits):
            return None
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
