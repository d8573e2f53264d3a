"""The operator's log (issue 22): UTC time, level, component, message; JSON lines; what -v/-vv show;
--log-file / --log-format refused in one line when wrong; secrets scrubbed from every line."""
from __future__ import annotations

import json
import logging
import re
from decimal import Decimal

import pytest

from krakenbot import cli, logs

LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\w+) +(\S+): (.*)$")


@pytest.fixture
def log_file(tmp_path):
    yield tmp_path / "bot.log"
    logs.close()


def _emit(command: str, path, verbose: int = 0, log_format: str | None = None) -> list[str]:
    logs.configure(command, verbose, str(path), log_format)
    logging.getLogger("krakenbot.execution.executor").info("order %s sent", "kb1", extra={"fields": {
        "cl_ord_id": "kb1", "volume": Decimal("0.00010000"), "executed": Decimal("0E-8")}})
    logging.getLogger("krakenbot.client").debug("pacing AddOrder")
    logging.getLogger("urllib3.connectionpool").debug("POST /0/private/AddOrder")
    logging.getLogger("urllib3.connectionpool").warning("connection pool is full")
    logs.close()
    return path.read_text().splitlines()


def test_a_text_line_has_utc_time_with_milliseconds_level_component_and_message(log_file):
    line = _emit("run", log_file)[0]
    match = LINE.match(line)
    assert match, line
    assert match.group(2, 3, 4) == ("INFO", "executor", "order kb1 sent")
    assert logs.utc_time(1_700_000_000.1234) == "2023-11-14T22:13:20.123Z"  # UTC whatever the local zone


def test_a_json_line_is_one_object_with_the_event_fields(log_file):
    line = json.loads(_emit("run", log_file, log_format="json")[0])
    assert {k: line[k] for k in ("level", "component", "message")} == {
        "level": "INFO", "component": "executor", "message": "order kb1 sent"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    assert (line["cl_ord_id"], line["volume"], line["executed"]) == ("kb1", "0.00010000", "0.00000000")


@pytest.mark.parametrize("command,verbose,shown", [
    ("run", 0, ["order kb1 sent", "connection pool is full"]),
    ("status", 0, ["connection pool is full"]),
    ("check", 1, ["order kb1 sent", "pacing AddOrder", "connection pool is full"]),
    ("run", 2, ["order kb1 sent", "pacing AddOrder", "POST /0/private/AddOrder", "connection pool is full"]),
])
def test_verbosity_chooses_what_is_shown(log_file, command, verbose, shown):
    assert [LINE.match(line).group(4) for line in _emit(command, log_file, verbose)] == shown


def test_the_log_file_is_appended_to(log_file):
    log_file.write_text("earlier line\n")
    _emit("run", log_file)
    lines = _emit("run", log_file)
    assert lines[0] == "earlier line" and len(lines) == 5  # the line before, then each run's two lines


def test_a_secret_that_reached_a_message_is_scrubbed_from_the_line(log_file):
    logs.configure("run", 0, str(log_file), "json")
    logs.scrub_with(lambda text: text.replace("c2VjcmV0", "***"))
    logging.getLogger("krakenbot.client").warning("refused with secret c2VjcmV0", extra={"fields": {"s": "c2VjcmV0"}})
    logs.close()
    assert "c2VjcmV0" not in log_file.read_text() and "***" in log_file.read_text()


@pytest.mark.parametrize("options,said", [
    (["--log-format", "xml"], "krakenbot: --log-format must be one of text, json, got 'xml'"),
    (["--log-file", "/nonexistent-dir/bot.log"],
     "krakenbot: --log-file /nonexistent-dir/bot.log: the directory /nonexistent-dir does not exist"),
])
def test_a_bad_log_option_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, options, said):
    monkeypatch.setenv("KRAKENBOT_HOME", str(tmp_path / "home"))
    assert cli.main(["status", *options]) == 2
    assert capsys.readouterr().err.splitlines() == [said]


def test_a_log_file_that_is_a_directory_is_one_line(tmp_path, capsys):
    assert cli.main(["status", "--home", str(tmp_path / "home"), "--log-file", str(tmp_path)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"krakenbot: --log-file {tmp_path}: is a directory"]


def test_verbose_counts_before_or_after_the_subcommand():
    assert cli._parse(["run", "-vv"]).verbose == 2 and cli._parse(["-v", "status"]).verbose == 1
    assert cli._parse(["status"]).verbose == 0


@pytest.mark.parametrize("argv,verbose", [
    (["-v", "run", "-v"], 2), (["run", "-vv"], 2), (["-vv", "run"], 2), (["-v", "run"], 1), (["run", "-v"], 1),
    (["run"], 0), (["-v", "status", "-vv"], 3),
])
def test_v_counts_before_and_after_the_command(argv, verbose):
    assert cli._parse(argv).verbose == verbose
