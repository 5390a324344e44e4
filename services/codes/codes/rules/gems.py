"""CMS general equivalence mappings (GEMs) between ICD-10-CM and ICD-9-CM."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ..release_files import MalformedRelease, Wrap, gz_guard, open_text
from .rows import GemRow

_GEM_CODE = re.compile(r"^(?:[0-9A-Z]{3,7}|NoDx|NoPCS)$")


def read_gem(path: Path, wrap: Wrap = None) -> Iterator[GemRow]:
    """CMS GEM text: source code, target code, 5 flag digits (approximate, no map,
    combination, scenario, choice list), separated by spaces."""
    return gz_guard(path, _read_gem(path, wrap))


def _read_gem(path: Path, wrap: Wrap) -> Iterator[GemRow]:
    with open_text(path, encoding="ascii", wrap=wrap, newline=None) as text:
        for line, raw in enumerate(text, start=1):
            if not raw.strip():
                continue
            fields = raw.split()
            if len(fields) != 3 or len(fields[2]) != 5 or not fields[2].isdigit():
                raise MalformedRelease(path, line, f"expected 'source target flags', got {raw.strip()!r}")
            source, target, flags = fields
            # The FY2018 file has a few lower-case codes ("v5889"): codes are case-blind.
            source = source.upper()
            target = target if target in ("NoDx", "NoPCS") else target.upper()
            if not _GEM_CODE.match(source) or not _GEM_CODE.match(target):
                raise MalformedRelease(path, line, f"bad code in {raw.strip()!r}")
            yield GemRow(
                source=source,
                target=target,
                approximate=flags[0] == "1",
                no_map=flags[1] == "1",
                combination=flags[2] == "1",
                scenario=int(flags[3]),
                choice_list=int(flags[4]),
            )
