"""Loading with progress bars (what `make run` does) reads exactly what a plain read does."""

from pathlib import Path

import pytest

from codes import release_files
from codes.rules.rule_files import _wrap


@pytest.mark.parametrize(
    "name",
    [
        "ncci_ptp/ccipra-v322r0-f1.excerpt.txt",
        "ncci_ptp/priorpath_ptp_subset_100codes_v322r0_v323r0.csv.gz",
    ],
)
def test_progress_wrapper_reads_the_whole_file(data_mirror: Path, name: str, capsys):
    path = data_mirror / name
    with release_files.open_text(path, encoding="latin-1") as plain:
        expected = plain.read()
    with release_files.open_text(path, encoding="latin-1", wrap=_wrap(True, "test", path)) as shown:
        assert shown.read() == expected
    assert "test" in capsys.readouterr().err  # the bar was drawn


def test_a_full_load_with_progress_bars(tmp_path, data_mirror: Path):
    from codes.rules.rule_files import load_rules
    from medcode_common.settings import load_settings

    (tmp_path / "ncci_ptp").mkdir()
    (tmp_path / "ncci_ptp" / "ccipra-v322r0-f1.txt").write_bytes(
        (data_mirror / "ncci_ptp" / "ccipra-v322r0-f1.excerpt.txt").read_bytes()
    )
    settings = load_settings(DATA_DIR=tmp_path / "data", DATA_MIRROR=tmp_path)
    reports = load_rules(settings, show_progress=True)
    assert reports, "nothing was loaded"


def test_a_newer_reader_version_makes_the_same_file_load_again(tmp_path):
    from codes.rules.rule_files import READER_VERSIONS, fingerprint

    path = tmp_path / "release.csv"
    path.write_text("a,b\n")
    assert fingerprint([path], "PTP") == fingerprint([path])  # version 1: unsalted
    assert READER_VERSIONS["INDEX"] >= 2
    assert fingerprint([path], "INDEX") != fingerprint([path])
