"""One settings class per process, composed from the pieces in medcode_common.settings:
every documented variable is read by some process, database URLs are normalised in one
place, and production refuses the development secrets of every process that has one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from medcode_common.db import make_engine
from medcode_common.settings import (
    ConfigError,
    EnvironmentSettings,
    ServiceSettings,
    Settings,
    normalise_database_url,
    read_settings,
    settings_or_exit,
)

README = Path(__file__).resolve().parents[2] / "README.md"
# Read straight from the environment where they are used (not settings fields).
READ_ELSEWHERE = {"GATEWAY_WEB_ROOT", "MEDCODE_TRACE_FILE", "OTEL_EXPORTER_OTLP_ENDPOINT", "CPT_FILE", "NCCI_PTP_DIR"}


def _processes() -> dict[str, type]:
    """The settings class of each process of the platform."""
    from accounts.config import AccountsSettings
    from assistant.config import AssistantSettings
    from careers.config import CareersSettings
    from codes.config import CodesSettings, LoaderSettings
    from gateway.settings import GatewaySettings
    from mail_ingress.settings import MailIngressSettings
    from medcode_common.mail import RelaySettings
    from metering.config import MeteringSettings

    return {
        "accounts": AccountsSettings,
        "assistant": AssistantSettings,
        "careers": CareersSettings,
        "codes": CodesSettings,
        "metering": MeteringSettings,
        "codes loader": LoaderSettings,
        "gateway": GatewaySettings,
        "mail ingress": MailIngressSettings,
        "mail relay": RelaySettings,
        "tools": Settings,
    }


SERVICES = ("accounts", "assistant", "careers", "codes", "metering")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in ("ENVIRONMENT", "TOKEN_SECRET", "GATEWAY_SECRET", "DATABASE_URL", "AMQP_URI", "DATA_MIRROR"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("postgres://u:p@db:5432/medcode", "postgresql+psycopg://u:p@db:5432/medcode"),
        ("postgresql://u@db/medcode", "postgresql+psycopg://u@db/medcode"),
        ("postgresql+psycopg://u@db/medcode", "postgresql+psycopg://u@db/medcode"),
        ("sqlite:////tmp/x.sqlite3", "sqlite:////tmp/x.sqlite3"),
    ],
)
def test_database_urls_are_normalised_in_one_place(url, expected):
    assert normalise_database_url(url) == expected
    assert Settings(DATABASE_URL=url).database_url("accounts") == expected
    engine = make_engine(url)
    try:
        assert engine.url.drivername == expected.split("://")[0]
    finally:
        engine.dispose()


def test_every_process_that_stores_data_reads_the_same_database_url():
    url = "postgres://u@db/medcode"
    for name, cls in _processes().items():
        if "DATABASE_URL" in cls.model_fields:
            assert cls(DATABASE_URL=url).database_url("x") == "postgresql+psycopg://u@db/medcode", name


def test_without_database_url_each_service_has_its_sqlite_file(tmp_path):
    assert Settings(DATA_DIR=tmp_path).database_url("codes") == f"sqlite:///{(tmp_path / 'codes.sqlite3').resolve()}"


def test_a_bad_database_url_is_named():
    with pytest.raises(ConfigError, match="DATABASE_URL='mysql://x/y': .*postgresql://"):
        read_settings(Settings, DATABASE_URL="mysql://x/y")


def test_each_service_is_composed_from_the_service_pieces():
    processes = _processes()
    for name in SERVICES:
        assert issubclass(processes[name], ServiceSettings), name
        assert {"ENVIRONMENT", "AMQP_URI", "DATABASE_URL", "DATA_DIR", "HEALTH_PORT", "EVENT_MAX_ATTEMPTS"} <= set(
            processes[name].model_fields
        ), name


def test_the_shared_settings_carry_no_gateway_only_field():
    gateway_fields = {name for name in Settings.model_fields if name.startswith("GATEWAY_")}
    assert gateway_fields == {"GATEWAY_HOST", "GATEWAY_PORT"}  # where the launcher finds the gateway


def test_every_documented_variable_is_read_by_a_process_settings_class():
    table = README.read_text().split("| variable | default | meaning |", 1)[1].split("\n\n", 1)[0]
    documented = {name for cell in re.findall(r"^\| ([^|]+) \|", table, re.M) for name in re.findall(r"`(\w+)`", cell)}
    read = set().union(*(cls.model_fields for cls in _processes().values()))
    assert len(documented) > 50
    assert documented - READ_ELSEWHERE - read == set()


@pytest.mark.parametrize("process", ["accounts", "gateway"])
def test_production_refuses_the_development_secret(process):
    cls = _processes()[process]
    for name, development_value in cls.DEV_SECRETS.items():
        others = {other: "s" * 32 for other in cls.DEV_SECRETS if other != name}
        with pytest.raises(ConfigError, match=f"{name} must be set in production") as refused:
            read_settings(cls, show_values=False, ENVIRONMENT="production", **others)
        assert development_value not in str(refused.value)
        with pytest.raises(ConfigError, match=f"{name} must be at least 32 characters"):
            read_settings(cls, show_values=False, ENVIRONMENT="production", **others, **{name: "short"})
    assert read_settings(cls, ENVIRONMENT="production", **{name: "s" * 32 for name in cls.DEV_SECRETS}).production
    assert not read_settings(cls).production  # development keeps its default secret


def test_every_process_with_a_secret_declares_it_and_production_refuses_its_default():
    """No process holds a secret outside the shared check."""
    for name, cls in _processes().items():
        secrets = {field for field in cls.model_fields if field.endswith("_SECRET")}
        assert secrets == set(getattr(cls, "DEV_SECRETS", {})), name
        if secrets:
            assert issubclass(cls, EnvironmentSettings)
            with pytest.raises(ConfigError, match="must be set in production"):
                read_settings(cls, ENVIRONMENT="production")


def test_the_environment_is_one_enum_everywhere():
    for cls in _processes().values():
        if "ENVIRONMENT" in cls.model_fields:
            with pytest.raises(ConfigError, match="ENVIRONMENT='staging'"):
                read_settings(cls, ENVIRONMENT="staging")


@pytest.mark.parametrize("process", sorted(_processes()))
def test_a_bad_variable_is_named_by_every_process(process):
    cls = _processes()[process]
    name = "AMQP_URI" if "AMQP_URI" in cls.model_fields else "DATA_DIR"
    value = "http://broker" if name == "AMQP_URI" else {"not": "a path"}
    with pytest.raises(ConfigError, match=name):
        read_settings(cls, **{name: value})


def test_the_runner_reads_each_service_s_own_settings_class():
    from medcode_common.launcher import SERVICES
    from medcode_common.runner import service_settings_class

    processes = _processes()
    assert {name: service_settings_class(target) for name, target in SERVICES.items()} == {
        name: processes[name] for name in SERVICES
    }


@pytest.mark.parametrize(
    "target, variable, value",
    [
        ("metering.service:MeteringService", "METERING_FREE_VIEWS", "-1"),
        ("codes.service:CodesService", "DATA_MIRROR", "/nowhere/at/all"),
        ("accounts.service:AccountsService", "TOKEN_SECRET", "short"),
    ],
)
def test_a_service_with_a_bad_variable_stops_at_start_naming_it(target, variable, value, tmp_path):
    """Exit status 2 and one line, before anything connects (no broker is named here)."""
    import os
    import subprocess
    import sys

    env = dict(
        os.environ,
        DATA_DIR=str(tmp_path),
        ENVIRONMENT="production",
        TOKEN_SECRET="t" * 40,
        AMQP_URI="amqp://guest:guest@127.0.0.1:1/",
    )
    env[variable] = value
    done = subprocess.run(
        [sys.executable, "-m", "medcode_common.runner", target], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert variable in line
    if variable.endswith("_SECRET"):
        assert value not in line  # a secret's value is never shown


def test_an_entry_point_with_a_bad_variable_prints_one_line_and_exits_2(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "mysql://x/y")
    with pytest.raises(SystemExit) as exited:
        settings_or_exit(lambda: read_settings(Settings))
    assert exited.value.code == 2
    assert re.fullmatch(r"error: invalid configuration: DATABASE_URL='mysql://x/y': .*\n", capsys.readouterr().err)
    monkeypatch.delenv("DATABASE_URL")
    assert isinstance(settings_or_exit(lambda: read_settings(Settings)), Settings)


def test_a_service_process_patches_eventlet_without_its_green_dns_resolver():
    """dnspython (eventlet's green resolver) is ~7 MB of each service's memory; an operator
    can still ask for it."""
    import os
    import subprocess
    import sys

    probe = (
        "import sys; from medcode_common.runner import patch_eventlet; patch_eventlet(); "
        "import socket, eventlet.patcher; "
        "print(eventlet.patcher.is_monkey_patched('socket'), 'dns' in sys.modules)"
    )
    env = {name: value for name, value in os.environ.items() if name != "EVENTLET_NO_GREENDNS"}
    plain = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert plain.stdout.split() == ["True", "False"]
    asked = subprocess.run(
        [sys.executable, "-c", probe], env={**env, "EVENTLET_NO_GREENDNS": "no"}, capture_output=True, text=True
    )
    assert asked.stdout.split() == ["True", "True"]


def test_an_sqlite_engine_bounds_each_connections_page_cache_when_asked(tmp_path):
    bounded = make_engine(f"sqlite:///{tmp_path / 'bounded.sqlite3'}", sqlite_cache_kib=256)
    default = make_engine(f"sqlite:///{tmp_path / 'default.sqlite3'}")
    try:
        with bounded.connect() as first, bounded.connect() as second:  # every pooled connection
            assert [c.exec_driver_sql("PRAGMA cache_size").scalar_one() for c in (first, second)] == [-256, -256]
        with default.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -2000  # SQLite's own
    finally:
        bounded.dispose()
        default.dispose()
