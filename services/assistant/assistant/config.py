"""Settings of the assistant service process, read from environment variables."""

from __future__ import annotations

from pydantic import Field, field_validator

from medcode_common.settings import MirrorSettings, ServiceSettings, read_settings


class AssistantSettings(ServiceSettings, MirrorSettings):
    """The documents and lab NCDs come from DATA_MIRROR."""

    # Where an answer links each code it names; {system} and {code} are filled in.
    ASSISTANT_CODE_URL: str = "http://127.0.0.1:8000/code/{system}/{code}"
    # Seconds one call to the codes or metering service may take before the question
    # fails as UNAVAILABLE (a question makes a few of them).
    ASSISTANT_RPC_TIMEOUT: float = Field(default=10.0, gt=0, le=120)

    @field_validator("ASSISTANT_CODE_URL")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        if "{system}" not in value or "{code}" not in value:
            raise ValueError("must contain {system} and {code}")
        return value


def load_assistant_settings(**overrides) -> AssistantSettings:
    return read_settings(AssistantSettings, "assistant configuration", **overrides)
