"""The am-dbg command line: Go-style flags, aliases and clear errors."""

from pathlib import Path

import pytest

from am_dbg.config import DEFAULT_ADDR, ConfigError, parse_args


def test_defaults_follow_the_go_code_and_design() -> None:
    cfg, version = parse_args([])
    assert not version
    assert cfg.listen_addr == DEFAULT_ADDR
    assert cfg.view == "tree-log" and cfg.view_timelines == 1
    assert cfg.view_tail and cfg.view_reader
    assert cfg.filter_health and cfg.filter_checks and cfg.filter_auto_canceled
    assert not cfg.output_tx, "running am-dbg must not litter the working directory"


def test_listen_alias_and_disabling() -> None:
    assert parse_args(["--listen"])[0].listen_addr == DEFAULT_ADDR
    assert parse_args(["--listen", "127.0.0.1:0"])[0].listen_addr == "127.0.0.1:0"
    assert parse_args(["-l", "-1"])[0].listen_addr == ""
    assert not parse_args(["-l", "-1"])[0].listening


def test_listen_value_that_is_a_url_is_the_start_address() -> None:
    cfg, _ = parse_args(["--listen", "mach://ps-2/a59d"])
    assert cfg.start_url == "mach://ps-2/a59d"
    assert cfg.listen_addr == DEFAULT_ADDR


def test_start_url_disables_tail_unless_asked() -> None:
    assert not parse_args(["mach://x"])[0].view_tail
    assert parse_args(["mach://x", "--view-tail"])[0].view_tail


def test_go_style_booleans() -> None:
    assert not parse_args(["--no-view-reader"])[0].view_reader
    assert not parse_args(["--view-reader=false"])[0].view_reader
    assert parse_args(["--filter-canceled"])[0].filter_canceled
    assert not parse_args(["--filter-auto"])[0].filter_auto_canceled


def test_recording_over_the_imported_file_is_refused(tmp_path: Path) -> None:
    rec = tmp_path / "x.amdbg"
    rec.write_bytes(b"AMDBG\0\0\1")
    for same in (str(rec), str(tmp_path / "." / "x.amdbg")):
        with pytest.raises(ConfigError, match=r"--record: .* is the file given to -i"):
            parse_args(["-i", str(rec), "--record", same])
    assert rec.read_bytes() == b"AMDBG\0\0\1"
    assert parse_args(["-i", str(rec), "--record", str(tmp_path / "y.amdbg")])[0].record


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--view-reader=maybe"], "--view-reader"),
        (["-l", "6831"], "HOST:PORT"),
        (["http://x"], "MACHURL"),
        (["--filter-log-level", "9"], "0-5"),
        (["-l", "127.0.0.1:99999"], "--listen-addr: port must be 0-65535"),
        (["-l", "localhost:abc"], "--listen-addr: port must be a number"),
        (["-l", "1"], "--listen-addr: expected HOST:PORT"),
        (["--fwd-data", "x"], "--fwd-data: expected HOST:PORT"),
        (["--dbg-am-dbg-addr", "x:y"], "--dbg-am-dbg-addr: port"),
        (["--demo", "-l", "-1"], "--demo needs the server"),
    ],
)
def test_bad_values_name_the_flag(argv: list[str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        parse_args(argv)
