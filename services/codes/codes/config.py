"""Settings of the codes service process and of its loader (`python -m codes.cli`), read
from environment variables."""

from __future__ import annotations

from pydantic import Field

from medcode_common.settings import DatabaseSettings, MirrorSettings, SearchSettings, ServiceSettings, read_settings


class LoaderSettings(DatabaseSettings, MirrorSettings, SearchSettings):
    """The loader reads the releases in DATA_MIRROR into the codes database and the search index."""


class CodesSettings(ServiceSettings, MirrorSettings, SearchSettings):
    """The service: the search index, the mirror's ICD-10-PCS Definitions, and its page cache."""

    # The bounds of the process's caches. With all of them full the codes process stays
    # within issue 13's 150 MB (`make bench`, "codes RSS with every cache full"): ~110 MB is
    # the process at start, ~22 MB the search index's mapped pages once searches touch them.
    # Code pages kept, ~0.5 KB each (compressed JSON; page_cache). A page not kept costs the
    # codes service ~5 ms (3.7 ms of CPU) more than one kept.
    CODES_PAGE_CACHE_SIZE: int = Field(default=10_000, ge=1)
    # NCCI PTP rows kept by column 1 code for the codes claims named lately, ~170 bytes each
    # (a code has 200 rows on average: 20 k rows are some 100 codes).
    CODES_PTP_ROWS_KEPT: int = Field(default=20_000, ge=0)
    # Claims' PTP lookups kept (a repeated claim skips even the column 1 lookups), < 1 KB each.
    CODES_CLAIM_LOOKUPS_KEPT: int = Field(default=1024, ge=1)
    # Database pages an SQLite connection of the codes process keeps (KiB; SQLite's own default is 2 MB).
    CODES_SQLITE_CACHE_KIB: int = Field(default=512, ge=64)


def load_codes_settings(**overrides) -> CodesSettings:
    return read_settings(CodesSettings, "codes configuration", **overrides)


def load_loader_settings(**overrides) -> LoaderSettings:
    return read_settings(LoaderSettings, "codes loader configuration", **overrides)
