"""Settings of the metering service process, read from environment variables."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from medcode_common.settings import ServiceSettings, read_settings


class MeteringSettings(ServiceSettings):
    """Quotas per plan and period. An empty value (e.g. METERING_PRO_VIEWS=) means unlimited."""

    METERING_GUEST_VIEWS: int | None = Field(default=1, ge=0)
    METERING_FREE_VIEWS: int | None = Field(default=6, ge=0)  # in all, the guest's view included
    METERING_PRO_VIEWS: int | None = Field(default=None, ge=0)
    METERING_PERIOD_DAYS: int = Field(default=30, ge=1, le=3660)
    # New guest views per client IP per UTC day, whatever the guest id (empty: no cap).
    METERING_GUEST_IP_DAILY_CAP: int | None = Field(default=10, ge=0)
    METERING_GUEST_QUESTIONS: int | None = Field(default=3, ge=0)
    METERING_FREE_QUESTIONS: int | None = Field(default=30, ge=0)
    METERING_PRO_QUESTIONS: int | None = Field(default=None, ge=0)
    # Claim checks per UTC day (one call of up to 50 lines is one check); guests also
    # per client IP per day, whatever the guest id.
    METERING_GUEST_CLAIMS: int | None = Field(default=1, ge=0)
    METERING_FREE_CLAIMS: int | None = Field(default=10, ge=0)
    METERING_PRO_CLAIMS: int | None = Field(default=None, ge=0)
    METERING_GUEST_IP_DAILY_CLAIMS: int | None = Field(default=10, ge=0)
    # Retention: how long published outbox rows, handled event ids and per-IP day
    # counts are kept, and how often the purge runs. Counters and views of periods that
    # ended are of no use and go at each run.
    METERING_RETENTION_DAYS: int = Field(default=7, ge=1, le=3660)
    METERING_RETENTION_INTERVAL_SECONDS: int = Field(default=3600, ge=10, le=7 * 86400)
    # New guest questions per client IP per UTC day, whatever the guest id (empty: no cap).
    METERING_GUEST_IP_DAILY_QUESTIONS: int | None = Field(default=10, ge=0)

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_unlimited(cls, value, info: ValidationInfo):
        if info.field_name and info.field_name.startswith("METERING_") and isinstance(value, str) and not value.strip():
            return None
        return value


def load_metering_settings(**overrides) -> MeteringSettings:
    return read_settings(MeteringSettings, "metering configuration", show_values=True, **overrides)
