"""Accounts use cases over the real store, on SQLite and on PostgreSQL."""

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from accounts import storage
from accounts.config import load_accounts_settings
from accounts.dependencies import build_accounts
from accounts.domain import BAD_CREDENTIALS
from medcode_contracts import events
from medcode_contracts.accounts import LoginRequest, Plan, RegisterRequest, Role
from medcode_contracts.errors import BadRequest, Conflict, Forbidden, NotFound, RateLimited, Unauthenticated


@pytest.fixture
def accounts(accounts_engine):
    return build_accounts(accounts_engine, load_accounts_settings(LOGIN_FREE_ATTEMPTS=3))


def register(accounts, email="ann@example.org", password="s3cret-pass", **kw):
    return accounts.register(RegisterRequest(email=email, password=password, name="Ann", **kw))


def login(accounts, email="ann@example.org", password="s3cret-pass", ip="10.0.0.1"):
    return accounts.login(LoginRequest(email=email, password=password, client_ip=ip))


def outbox_events(engine):
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(storage.outbox.table.c.event_type, storage.outbox.table.c.payload).order_by(
                storage.outbox.table.c.id
            )
        ).all()
    return [(row.event_type, json.loads(row.payload)) for row in rows]


def test_migration_matches_the_tables_the_code_uses(accounts_engine):
    with accounts_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": storage.SCHEMA.version_table})
        diff = compare_metadata(context, storage.metadata)
    assert [d for d in diff if not (d[0] == "remove_table" and d[1].name == storage.SCHEMA.version_table)] == []


def test_register_stores_a_free_account_and_records_user_registered(accounts, accounts_engine):
    auth = register(accounts, email="  Ann@Example.ORG ", guest_id="guest-7")
    assert auth.account.email == "ann@example.org"
    assert (auth.account.plan, auth.account.role) == (Plan.FREE, Role.MEMBER)
    assert accounts.authenticate(auth.token).id == auth.account.id
    [(kind, payload)] = outbox_events(accounts_engine)
    assert kind == "user_registered"
    assert payload["user_id"] == auth.account.id and payload["guest_id"] == "guest-7"
    assert payload["schema"] == "accounts.user_registered/1"
    assert "password" not in json.dumps(payload) and "argon2" not in json.dumps(payload)


def test_no_payload_carries_the_password_hash(accounts):
    auth = register(accounts)
    for dumped in (auth.model_dump_json(), login(accounts).model_dump_json()):
        assert "argon2" not in dumped and "password" not in dumped


def test_emails_are_unique_whatever_their_case(accounts):
    register(accounts, email="ann@example.org")
    with pytest.raises(Conflict):
        register(accounts, email="ANN@example.org ")


def test_employer_may_register_but_admin_is_refused(accounts):
    assert register(accounts, email="boss@example.org", role=Role.EMPLOYER).account.role is Role.EMPLOYER
    with pytest.raises(Forbidden, match="ADMIN"):
        register(accounts, email="root@example.org", role=Role.ADMIN)


def test_short_passwords_are_refused(accounts):
    with pytest.raises(BadRequest, match="password"):
        register(accounts, password="short")


def test_wrong_password_and_unknown_email_give_the_same_error(accounts):
    register(accounts)
    with pytest.raises(Unauthenticated) as wrong_password:
        login(accounts, password="not-the-password")
    with pytest.raises(Unauthenticated) as unknown_email:
        login(accounts, email="nobody@example.org")
    with pytest.raises(Unauthenticated) as malformed_email:
        login(accounts, email="not an email")
    assert str(wrong_password.value) == str(unknown_email.value) == str(malformed_email.value) == BAD_CREDENTIALS


def test_login_is_case_insensitive_and_issues_a_new_session(accounts):
    first = register(accounts)
    second = login(accounts, email="ANN@EXAMPLE.ORG")
    assert second.token != first.token
    assert accounts.authenticate(second.token).id == first.account.id


def test_logout_revokes_only_that_token(accounts):
    first = register(accounts)
    second = login(accounts)
    assert accounts.logout(first.token) is True
    with pytest.raises(Unauthenticated):
        accounts.authenticate(first.token)
    assert accounts.authenticate(second.token).id == first.account.id
    assert accounts.logout(first.token) is True  # idempotent
    assert accounts.logout("garbage") is True


def test_logout_records_session_revoked_once_for_the_gateways(accounts, accounts_engine):
    auth = register(accounts)
    session_id = accounts.tokens.decode(auth.token).jti
    accounts.logout(auth.token)
    accounts.logout(auth.token)  # nothing left to revoke: no second event
    revoked = [p for kind, p in outbox_events(accounts_engine) if kind == "session_revoked"]
    assert len(revoked) == 1
    assert (revoked[0]["user_id"], revoked[0]["session_id"], revoked[0]["reason"]) == (
        auth.account.id,
        session_id,
        "logout",
    )
    assert revoked[0]["schema"] == "accounts.session_revoked/1"
    assert auth.token not in json.dumps(revoked[0])  # the session's id, never its token


def test_expired_tokens_are_refused(accounts):
    register(accounts)
    accounts.tokens.ttl = timedelta(seconds=-1)
    with pytest.raises(Unauthenticated):
        accounts.authenticate(login(accounts).token)


def test_repeated_failures_lock_the_email_and_ip_and_success_resets(accounts):
    register(accounts)
    for _ in range(3):  # the free attempts
        with pytest.raises(Unauthenticated):
            login(accounts, password="wrong-password")
    # The 4th attempt locks the pair while it is checked; a wrong password keeps it locked.
    with pytest.raises(Unauthenticated):
        login(accounts, password="wrong-password")
    with pytest.raises(RateLimited, match="try again in"):
        login(accounts)  # even the right password waits
    login(accounts, ip="10.0.0.2")  # another client is not affected, and unknown emails
    with pytest.raises(RateLimited):  # are throttled alike (nothing reveals existence)
        for _ in range(5):
            with pytest.raises(Unauthenticated):
                login(accounts, email="nobody@example.org", password="x")


def test_a_successful_login_clears_the_failures(accounts):
    register(accounts)
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            login(accounts, password="wrong-password")
    login(accounts)
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            login(accounts, password="wrong-password")
    with pytest.raises(Unauthenticated):  # 4th attempt: checked (and locks), not refused
        login(accounts, password="wrong-password")


def make_admin(accounts, email="root@example.org"):
    register(accounts, email=email)
    accounts.make_admin(email.upper())
    return login(accounts, email=email).token


def test_set_plan_needs_an_admin_and_records_plan_changed(accounts, accounts_engine):
    ann = register(accounts)
    with pytest.raises(Forbidden):
        accounts.set_plan(ann.token, ann.account.id, Plan.PRO)
    admin = make_admin(accounts)
    assert accounts.set_plan(admin, ann.account.id, Plan.PRO).plan is Plan.PRO
    assert accounts.set_plan(admin, ann.account.id, Plan.PRO).plan is Plan.PRO  # no change, no event
    assert accounts.authenticate(ann.token).plan is Plan.PRO
    changes = [p for kind, p in outbox_events(accounts_engine) if kind == "plan_changed"]
    assert [(p["user_id"], p["old_plan"], p["new_plan"]) for p in changes] == [(ann.account.id, "FREE", "PRO")]
    with pytest.raises(NotFound):
        accounts.set_plan(admin, "no-such-id", Plan.PRO)
    with pytest.raises(BadRequest):
        accounts.set_plan(admin, ann.account.id, Plan.GUEST)


def test_make_admin_records_role_changed_once(accounts, accounts_engine):
    ann = register(accounts)
    assert accounts.make_admin(ann.account.email.upper()).role is Role.ADMIN
    assert accounts.make_admin(ann.account.email).role is Role.ADMIN  # no change, no event
    changes = [p for kind, p in outbox_events(accounts_engine) if kind == "role_changed"]
    assert [(p["user_id"], p["old_role"], p["new_role"]) for p in changes] == [(ann.account.id, "MEMBER", "ADMIN")]
    assert events.parse(changes[0]).TYPE == "role_changed"
    with pytest.raises(NotFound):
        accounts.make_admin("nobody@example.org")


def test_get_account_shows_only_ones_own_account_unless_admin(accounts):
    ann = register(accounts)
    bob = register(accounts, email="bob@example.org")
    assert accounts.get_account(ann.token, None).id == ann.account.id
    with pytest.raises(Forbidden):
        accounts.get_account(ann.token, bob.account.id)
    assert accounts.get_account(make_admin(accounts), bob.account.id).email == "bob@example.org"


def test_deleting_ones_account_ends_sessions_and_logins(accounts, accounts_engine):
    ann = register(accounts)
    assert accounts.delete_account(ann.token, None) is True
    with pytest.raises(Unauthenticated):
        accounts.authenticate(ann.token)
    with pytest.raises(Unauthenticated):
        login(accounts)
    assert ("user_deleted", ann.account.id) in [(k, p.get("user_id")) for k, p in outbox_events(accounts_engine)]
    register(accounts)  # the address is free again


def test_only_an_admin_deletes_someone_else(accounts):
    ann = register(accounts)
    bob = register(accounts, email="bob@example.org")
    with pytest.raises(Forbidden):
        accounts.delete_account(bob.token, ann.account.id)
    assert accounts.delete_account(make_admin(accounts), ann.account.id) is True
    with pytest.raises(Unauthenticated):
        accounts.authenticate(ann.token)


def test_make_admin_needs_an_existing_account(accounts):
    with pytest.raises(NotFound):
        accounts.make_admin("ghost@example.org")


def test_purge_forgets_expired_sessions(accounts, accounts_engine):
    register(accounts)
    accounts.tokens.ttl = timedelta(seconds=-1)
    login(accounts)
    assert accounts.purge_expired() == 1
