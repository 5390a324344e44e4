"""The loader and the `codes.cli` command, on a small mirror holding the real HCPCS file."""

from __future__ import annotations

import re
import shutil

import pytest
from typer.testing import CliRunner

from codes.cli import app
from codes.loading import load_available, sync_search_index
from codes.storage import CodeStore
from medcode_common.db import make_engine
from medcode_common.settings import load_settings
from medcode_contracts.codes import CodeSystem


class FakeBackend:
    """Records what the loader asks of a search backend."""

    def __init__(self):
        self.editions: dict[str, str] = {}
        self.calls: list[tuple[str, str, int]] = []
        self.closed = False

    def indexed_editions(self) -> dict[str, str]:
        return dict(self.editions)

    def replace_system(self, system, edition_id, records) -> None:
        self.calls.append((system, edition_id, sum(1 for _ in records)))
        self.editions[system] = edition_id

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def mirror(tmp_path, data_mirror):
    (tmp_path / "mirror" / "hcpcs").mkdir(parents=True)
    shutil.copy(data_mirror / "hcpcs" / "HCPC2025_OCT_ANWEB.csv", tmp_path / "mirror" / "hcpcs")
    return tmp_path / "mirror"


@pytest.fixture
def settings(tmp_path, mirror):
    return load_settings(DATA_DIR=tmp_path / "var", DATA_MIRROR=mirror, DATABASE_URL=None)


def _store(settings) -> CodeStore:
    return CodeStore(make_engine(settings.database_url("codes")))


def test_load_then_reload_is_a_no_op(settings):
    backend = FakeBackend()
    [report] = load_available(settings, [CodeSystem.HCPCS], show_progress=False, backend=backend)
    assert (report.status, report.codes) == ("loaded", 8_846)
    store = _store(settings)
    ids = store.current_edition_ids()
    assert backend.calls == [("HCPCS", ids["HCPCS"], 8_846)]

    [again] = load_available(settings, ["HCPCS"], show_progress=False, backend=backend)
    assert (again.status, again.codes) == ("already loaded", 8_846)
    assert store.current_edition_ids() == ids and len(backend.calls) == 1
    assert not backend.closed  # a backend passed in stays open
    with store.engine.connect() as conn:
        assert store.outbox.pending(conn) == 1


def test_missing_release_is_reported_not_loaded(settings):
    [pcs] = load_available(settings, [CodeSystem.ICD10PCS], show_progress=False, backend=FakeBackend())
    assert pcs.status == "not found"
    assert _store(settings).current_editions() == []


def test_unknown_system_is_refused(settings):
    with pytest.raises(ValueError, match="no importer for CPT"):
        load_available(settings, [CodeSystem.CPT], show_progress=False, backend=FakeBackend())


def test_sync_search_index_reindexes_only_stale_systems(settings):
    load_available(settings, [CodeSystem.HCPCS], show_progress=False, backend=FakeBackend())
    store = _store(settings)
    backend = FakeBackend()
    backend.editions = {"HCPCS": "an older edition", "ICD10CM": "not in the store"}
    assert sync_search_index(store, backend) == ["HCPCS"]
    assert sync_search_index(store, backend) == []
    assert backend.calls == [("HCPCS", store.current_edition_ids()["HCPCS"], 8_846)]


def test_cli_load_and_status(monkeypatch, settings, mirror, tmp_path):
    monkeypatch.setenv("DATA_MIRROR", str(mirror))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    fake = FakeBackend()
    monkeypatch.setattr("codes.search.make_backend", lambda _settings: fake)
    runner = CliRunner()
    result = runner.invoke(app, ["load", "--system", "hcpcs", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "HCPCS: loaded HCPCS Level II 2025 October update (8,846 codes" in result.output
    assert fake.closed and len(fake.calls) == 1
    result = runner.invoke(app, ["load", "-s", "HCPCS", "--no-progress"])
    assert "HCPCS Level II 2025 October update already loaded" in result.output
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0
    assert re.search(r"^HCPCS +HCPCS Level II 2025 October update +2025-10-01 +8,846 +7,621 ", result.output, re.M)


def test_cli_malformed_release_exits_1_naming_file_and_line(monkeypatch, mirror, tmp_path):
    csv_path = mirror / "hcpcs" / "HCPC2025_OCT_ANWEB.csv"
    lines = csv_path.read_text(encoding="utf-8").splitlines(keepends=True)
    hcpc, seq, recid, rest = lines[100].split(",", 3)
    lines[100] = ",".join([hcpc, seq, "X", rest])
    csv_path.write_text("".join(lines), encoding="utf-8")
    monkeypatch.setenv("DATA_MIRROR", str(mirror))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr("codes.search.make_backend", lambda _settings: FakeBackend())
    result = CliRunner().invoke(app, ["load", "--system", "HCPCS", "--no-progress"])
    assert result.exit_code == 1
    assert f"{csv_path}, line 101: RECID 'X'" in result.output


def test_cli_bad_configuration_exits_1_naming_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_MIRROR", str(tmp_path / "no-such-dir"))
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 1
    assert "DATA_MIRROR" in result.output and "is not a directory" in result.output


def test_cli_unknown_system_exits_1(monkeypatch, mirror, tmp_path):
    monkeypatch.setenv("DATA_MIRROR", str(mirror))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    result = CliRunner().invoke(app, ["load", "--system", "CPT"])
    assert result.exit_code == 1 and "choose from ICD10CM, ICD10PCS, HCPCS" in result.output
