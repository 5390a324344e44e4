"""Settings of the careers service process (and its command line), read from environment
variables."""

from __future__ import annotations

from pydantic import Field

from medcode_common.settings import MailRelaySettings, SearchSettings, ServiceSettings, read_settings


class CareersSettings(ServiceSettings, SearchSettings, MailRelaySettings):
    """The job index (SEARCH_BACKEND), where alert mails go (SMTP_RELAY), and the board's own knobs."""

    # Post the sample jobs (careers.sample_data) at start when the board has no open job.
    CAREERS_DEMO_DATA: bool = True
    # Seconds between runs of the timer that expires jobs past their date.
    CAREERS_EXPIRY_INTERVAL: float = Field(default=60.0, gt=0, le=86400)
    # A job posted without expiresOn is listed this many days.
    CAREERS_LISTING_DAYS: int = Field(default=60, ge=1, le=365)
    # Where the links in alert mails point (the gateway's public address).
    CAREERS_PUBLIC_URL: str = "http://127.0.0.1:8000"
    CAREERS_ALERT_FROM: str = "Medcode job alerts <jobs@localhost>"
    # Seconds an alert mail waits before it is tried again after the relay refused it.
    CAREERS_ALERT_RETRY_SECONDS: float = Field(default=30.0, gt=0, le=86400)


def load_careers_settings(**overrides) -> CareersSettings:
    return read_settings(CareersSettings, "careers configuration", show_values=True, **overrides)
