"""Dependency providers of the assistant service: the domain object over its database,
the documents index and lab NCD tables (built once per process from the mirror), and the
outbox relay."""

from __future__ import annotations

from nameko.extensions import DependencyProvider

from medcode_common.nameko_storage import EventRelay, Storage
from medcode_contracts import assistant as contract

from . import storage
from .composition import Composer
from .config import load_assistant_settings
from .coverage import LabNcds
from .documents import Library
from .domain import Assistant
from .facts import CodesFacts


class Knowledge:
    """What the assistant reads itself (documents, lab NCDs), and how it composes with the
    facts the codes service gives."""

    def __init__(self, library: Library, ncds: LabNcds, code_url: str, rpc_timeout: float = 10.0):
        self.library = library
        self.ncds = ncds
        self.code_url = code_url
        self.rpc_timeout = rpc_timeout

    def composer(self, codes_rpc) -> Composer:
        return Composer(CodesFacts(codes_rpc, self.rpc_timeout), self.library, self.ncds, self.code_url)


class AssistantProvider(Storage):
    """Migrates the schema at start and hands every worker the same `Assistant`."""

    schema = storage.SCHEMA

    def build(self, engine) -> Assistant:
        return Assistant(storage.ConversationStore(engine))


class KnowledgeProvider(DependencyProvider):
    def setup(self):
        settings = load_assistant_settings()
        mirror = settings.DATA_MIRROR
        self.knowledge = Knowledge(
            Library.from_mirror(mirror),
            LabNcds.from_mirror(mirror),
            settings.ASSISTANT_CODE_URL,
            settings.ASSISTANT_RPC_TIMEOUT,
        )

    def get_dependency(self, worker_ctx):
        return self.knowledge


def assistant_events() -> EventRelay:
    return EventRelay(contract.SERVICE, storage.outbox)
