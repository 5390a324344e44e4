"""The services that make up the platform, in start order."""

from . import accounts, assistant, careers, codes, metering

ALL_SERVICES: tuple[str, ...] = (
    codes.SERVICE,
    accounts.SERVICE,
    metering.SERVICE,
    assistant.SERVICE,
    careers.SERVICE,
)
