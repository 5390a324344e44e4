"""Settings of the mail ingress process, read from environment variables: the shared
pieces (AMQP_URI and RPC_TIMEOUT, DATA_DIR and DATABASE_URL, SMTP_RELAY) and its own."""

from __future__ import annotations

from pydantic import Field, field_validator

from medcode_common.settings import DatabaseSettings, MailRelaySettings, RpcClientSettings, read_settings

from .parsing import valid_address


class MailIngressSettings(RpcClientSettings, DatabaseSettings, MailRelaySettings):
    SMTP_HOST: str = "127.0.0.1"
    SMTP_PORT: int = Field(default=2525, ge=1, le=65535)
    ASK_ADDRESS: str = "ask@localhost"
    # Larger mail is refused at the SMTP level (552); questions are short.
    MAIL_MAX_BYTES: int = Field(default=256 * 1024, ge=1024, le=50 * 1024 * 1024)
    # Answers an unknown sender gets before only the invitation to register.
    MAIL_GUEST_ANSWERS: int = Field(default=1, ge=0)
    MAIL_REGISTER_URL: str = "http://127.0.0.1:8000/graphql"
    # Seconds between attempts while the assistant or the relay is away (doubling, capped).
    MAIL_RETRY_SECONDS: float = Field(default=2.0, gt=0, le=3600)
    MAIL_RETRY_MAX_SECONDS: float = Field(default=60.0, gt=0, le=86400)
    # How long one question may take the assistant before the mail is tried again later.
    MAIL_ASK_TIMEOUT: float = Field(default=20.0, gt=0, le=300)

    @field_validator("ASK_ADDRESS")
    @classmethod
    def _address(cls, value: str) -> str:
        if not valid_address(value):
            raise ValueError("must be a plain address like ask@example.org")
        return value.lower()


def load_mail_settings(**overrides) -> MailIngressSettings:
    return read_settings(MailIngressSettings, "mail ingress configuration", **overrides)
