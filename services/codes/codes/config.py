"""Settings of the codes service process and of its loader (`python -m codes.cli`), read
from environment variables."""

from __future__ import annotations

from pydantic import Field

from medcode_common.settings import DatabaseSettings, MirrorSettings, SearchSettings, ServiceSettings, read_settings


class LoaderSettings(DatabaseSettings, MirrorSettings, SearchSettings):
    """The loader reads the releases in DATA_MIRROR into the codes database and the search index."""


class CodesSettings(ServiceSettings, MirrorSettings, SearchSettings):
    """The service: the search index, the mirror's ICD-10-PCS Definitions, and its page cache."""

    CODES_PAGE_CACHE_SIZE: int = Field(default=20000, ge=1)  # code pages kept per codes process


def load_codes_settings(**overrides) -> CodesSettings:
    return read_settings(CodesSettings, "codes configuration", **overrides)


def load_loader_settings(**overrides) -> LoaderSettings:
    return read_settings(LoaderSettings, "codes loader configuration", **overrides)
