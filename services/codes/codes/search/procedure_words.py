"""Procedure names as surgeons say them, read against the ICD-10-PCS axes.

- `body_part_named(term, body_part)`: does a procedure name ("Tonsillectomy",
  "Mastectomy") name this body part ("Tonsils", "Breast, Left")? By the name's own root
  or a combining form of combining_forms.tsv ("mast" -> breast).
- `definition_terms(definitions, axes)`: the ICD-10-PCS Definitions' words for one code's
  axes: the body part key's anatomical terms ("Palatine tonsil" for Tonsils), the device
  key's product words, and the root operation's examples that name the code's body part
  ("Face lift" for an Alteration of the Face). They become search text of the code.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from .analysis import plain_words

COMBINING_FORMS_FILE = Path(__file__).with_name("combining_forms.tsv")
_SUFFIX = re.compile(
    r"(ectomy|ectomies|otomy|ostomy|oscopy|scopy|oplasty|plasty|opexy|pexy|"
    r"orrhaphy|rrhaphy|otripsy|tripsy|odesis|desis|olysis|lysis)$"
)


@lru_cache(maxsize=1)
def combining_forms() -> dict[str, tuple[str, ...]]:
    forms: dict[str, tuple[str, ...]] = {}
    for number, line in enumerate(COMBINING_FORMS_FILE.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or not parts[2].strip():
            raise ValueError(
                f"{COMBINING_FORMS_FILE.name} line {number}: expected "
                f"'root<TAB>body part | ...<TAB>source', got {line!r}"
            )
        forms[parts[0].strip().lower()] = tuple(w.strip().lower() for w in parts[1].split("|") if w.strip())
    return forms


def procedure_root(word: str) -> str | None:
    """ "tonsillectomy" -> "tonsill"; None when the word has no procedure suffix."""
    match = _SUFFIX.search(word)
    return word[: match.start()] if match and match.start() >= 2 else None


@lru_cache(maxsize=65536)
def body_part_named(term: str, body_part: str) -> bool:
    label = body_part.lower()
    label_words = [w for w in plain_words(label) if len(w) >= 3]
    for word in plain_words(term):
        root = procedure_root(word)
        if root is None:
            continue
        forms = combining_forms()
        for length in range(len(root), 1, -1):  # the longest listed root: "cholecyst" before "chole"
            parts = forms.get(root[:length])
            if parts:
                return any(part in label for part in parts)
        if len(root) >= 4 and any(w.startswith(root[:5]) or root.startswith(w[:5]) for w in label_words):
            return True
    return False


def definition_terms(definitions, axes: dict[str, str], section: str) -> list[tuple[str, str]]:
    """(term, where it comes from) of the PCS Definitions for one code's axis labels."""
    return list(
        _definition_terms(
            definitions, section, axes.get("Operation", ""), axes.get("Body Part", ""), axes.get("Device", "")
        )
    )


_CACHE: dict[tuple, tuple[tuple[str, str], ...]] = {}
_PARENTHESES = re.compile(r"\([^()]*\)")
_BRAND_MARK = re.compile(r"\((r|tm)\)", re.IGNORECASE)


def _generic(include: str) -> bool:
    """A device key entry that names a kind of device ("External fixator", "Tibial insert"),
    not a product ("COALESCE(R) radiolucent interbody fusion device", "Activa PC
    neurostimulator"): patients and coders search by kind; products would multiply the
    search text of every code with that device several times over."""
    if _BRAND_MARK.search(include):
        return False
    words = _PARENTHESES.sub(" ", include).split()
    return (
        bool(words)
        and not any(len(w) > 1 and (w.isupper() or any(ch.isupper() for ch in w[1:])) for w in words)
        and not (words[0][:1].isupper() and len(words) > 1 and words[1][:1].isupper())
    )


def _definition_terms(definitions, section, operation, body_part, device):
    key = (id(definitions), section, operation, body_part, device)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    found: list[tuple[str, str]] = []
    if body_part:
        term = definitions.lookup(section, 4, body_part)
        for include in term.includes if term else ():
            found.append((include, f"ICD-10-PCS Body Part Key: {include} - use {body_part}"))
    if device:
        term = definitions.lookup(section, 6, device)
        for include in term.includes if term else ():
            if _generic(include):
                found.append((include, f"ICD-10-PCS Device Key: {include} - use {device}"))
    if operation and body_part:
        term = definitions.lookup(section, 3, operation)
        body_words = {w[:5] for w in plain_words(body_part) if len(w) >= 3}
        for include in term.includes if term else ():
            for example in include.split(", "):
                if any(w[:5] in body_words for w in plain_words(example) if len(w) >= 3):
                    found.append((example, f'ICD-10-PCS Definitions: {operation}, example "{example}"'))
    if len(_CACHE) > 50_000:
        _CACHE.clear()
    _CACHE[key] = result = tuple(found)
    return result
