"""The `accounts` service: registration, log-in, tokens, plans and roles over RPC.

Thin entrypoints: validate the contract payload, call the domain, relay the events the
change committed, return JSON primitives. Errors are medcode_contracts.errors classes.
"""

from __future__ import annotations

from nameko.timer import timer

from medcode_common.nameko_service import OutboxService, expected
from medcode_common.rpc import parse_request
from medcode_contracts import accounts as contract

from .dependencies import AccountsProvider, account_events


class AccountsService(OutboxService):
    name = contract.SERVICE

    accounts = AccountsProvider()
    events = account_events()

    @expected
    def register(self, request: dict) -> dict:
        payload = self.accounts.register(parse_request(contract.RegisterRequest, request))
        self.events.after_commit()
        return payload.model_dump(mode="json")

    @expected
    def login(self, request: dict) -> dict:
        return self.accounts.login(parse_request(contract.LoginRequest, request)).model_dump(mode="json")

    @expected
    def logout(self, request: dict) -> bool:
        done = self.accounts.logout(parse_request(contract.TokenRequest, request).token)
        self.events.after_commit()
        return done

    @expected
    def authenticate(self, request: dict) -> dict:
        account = self.accounts.authenticate(parse_request(contract.TokenRequest, request).token)
        return account.public().model_dump(mode="json")

    @expected
    def get_account(self, request: dict) -> dict:
        parsed = parse_request(contract.GetAccountRequest, request)
        return self.accounts.get_account(parsed.token, parsed.account_id).public().model_dump(mode="json")

    @expected
    def find_account(self, request: dict) -> dict | None:
        account = self.accounts.find_account(parse_request(contract.FindAccountRequest, request).email)
        return account.public().model_dump(mode="json") if account else None

    @expected
    def set_plan(self, request: dict) -> dict:
        parsed = parse_request(contract.SetPlanRequest, request)
        account = self.accounts.set_plan(parsed.token, parsed.account_id, parsed.plan)
        self.events.after_commit()
        return account.public().model_dump(mode="json")

    @expected
    def delete_account(self, request: dict) -> bool:
        parsed = parse_request(contract.DeleteAccountRequest, request)
        deleted = self.accounts.delete_account(parsed.token, parsed.account_id)
        self.events.after_commit()
        return deleted

    @timer(interval=3600)
    def purge_expired(self):
        self.accounts.purge_expired()
