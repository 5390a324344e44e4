"""The `assistant` service. Its product arrives in a later issue; for now it answers health."""
from nameko.rpc import rpc

from medcode_contracts import assistant as contract
from medcode_contracts.common import Health


class AssistantService:
    name = contract.SERVICE

    @rpc
    def health(self) -> dict:
        return Health(service=self.name).model_dump(mode="json")
