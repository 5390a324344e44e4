"""The `accounts` service. Its product arrives in a later issue; for now it answers health."""
from nameko.rpc import rpc

from medcode_contracts import accounts as contract
from medcode_contracts.common import Health


class AccountsService:
    name = contract.SERVICE

    @rpc
    def health(self) -> dict:
        return Health(service=self.name).model_dump(mode="json")
