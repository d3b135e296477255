"""Issue 15, the server's part: settings checked at start-up, one-line CLI errors, gunicorn's
own answers and access log, nginx's limits. Real gunicorn, nginx and ``orqo`` processes where
only they show it; everything on 127.0.0.1, every wait bounded.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import orqo_custom
import pytest
from click.testing import CliRunner

from orqo import create_app
from orqo.cli import main
from orqo.config import DEFAULTS
from orqo.config import RULES
from orqo.config import InvalidSetting
from orqo.testing.server import CHECKOUT
from orqo.testing.server import OrqoServer
from orqo.testing.server import free_port
from orqo.testing.server import stop_process

BIN = Path(sys.executable).parent
SECRET = "a-signing-secret-never-printed"

# (environment variable, value, the one line orqo refuses to start with)
INVALID_SETTINGS = [
    ("ORQO_SENDER_RATE_LIMIT", "lots", "ORQO_SENDER_RATE_LIMIT must be an integer ≥ 0, got 'lots'"),
    ("ORQO_TRIGGER_RATE_LIMIT", "lots",
     "ORQO_TRIGGER_RATE_LIMIT must be an integer ≥ 0, got 'lots'"),
    ("ORQO_PUSH_MAX_ATTEMPTS", "abc", "ORQO_PUSH_MAX_ATTEMPTS must be an integer ≥ 1, got 'abc'"),
    ("ORQO_SENDER_RATE_LIMIT", "-1", "ORQO_SENDER_RATE_LIMIT must be an integer ≥ 0, got -1"),
    ("ORQO_TRIGGER_RATE_LIMIT", "2.5",
     "ORQO_TRIGGER_RATE_LIMIT must be an integer ≥ 0, got 2.5"),
    ("ORQO_PUSH_TIMEOUT", "0", "ORQO_PUSH_TIMEOUT must be a number > 0, got 0"),
    ("ORQO_MAX_CONTENT_LENGTH", "true",
     "ORQO_MAX_CONTENT_LENGTH must be an integer ≥ 1, got True"),
    ("ORQO_REJECTION_WINDOW_SECONDS", "59",
     "ORQO_REJECTION_WINDOW_SECONDS must be an integer ≥ 60, got 59"),
    ("ORQO_REJECTION_SOURCES", "0", "ORQO_REJECTION_SOURCES must be an integer ≥ 1, got 0"),
    ("ORQO_LOAD_ENTRYPOINTS", "maybe", "ORQO_LOAD_ENTRYPOINTS must be true or false, got 'maybe'"),
    ("ORQO_SQLITE_SYNCHRONOUS", "OFF",
     "ORQO_SQLITE_SYNCHRONOUS must be one of NORMAL, FULL, got 'OFF'"),
    ("ORQO_LOG_LEVEL", "loud",
     "ORQO_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'loud'"),
    # Retention settings another branch adds to DEFAULTS: checked whenever they are set.
    ("ORQO_RETENTION_LEDGER_DAYS", "-1",
     "ORQO_RETENTION_LEDGER_DAYS must be an integer ≥ 0, got -1"),
    ("ORQO_PRUNE_INTERVAL_SECONDS", "0", "ORQO_PRUNE_INTERVAL_SECONDS must be a number > 0, got 0"),
]


def orqo_env(tmp_path, **settings) -> dict[str, str]:
    """The environment of an ``orqo`` or gunicorn process: this one's, an instance folder of
    the test's own, no database setting unless given, and ``settings``."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("ORQO_") or key == "ORQO_TEST_DATABASE_URL"}
    env["ORQO_INSTANCE_PATH"] = str(tmp_path / "instance")
    env.update(settings)
    return env


def run_orqo(env, *args) -> subprocess.CompletedProcess:
    """The ``orqo`` console script, as a user runs it."""
    return subprocess.run([str(BIN / "orqo"), *args], env=env, capture_output=True, text=True,
                          timeout=60, cwd=CHECKOUT)


def one_error_line(text: str) -> dict:
    """The single line ``text`` must be, parsed as orqo's JSON error shape."""
    lines = text.splitlines()
    assert len(lines) == 1, text
    error = json.loads(lines[0])["error"]
    assert set(error) == {"code", "message", "details"}
    return error


# --- Settings ---------------------------------------------------------------------------------

@pytest.mark.parametrize("variable, value, line", INVALID_SETTINGS)
def test_an_invalid_setting_stops_create_app_naming_the_variable(
        tmp_path, monkeypatch, variable, value, line):
    monkeypatch.setenv("ORQO_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidSetting) as refused:
        create_app()  # refused before any plugin is loaded
    assert str(refused.value) == line


def test_every_setting_has_a_rule_and_the_defaults_obey_them(tmp_path, monkeypatch):
    assert set(DEFAULTS) <= set(RULES)
    for key, value in DEFAULTS.items():
        assert RULES[key].allows(value), key
    monkeypatch.setenv("ORQO_INSTANCE_PATH", str(tmp_path))
    (tmp_path / "config.py").write_text("SENDER_RATE_LIMIT = 'lots'\n")
    with pytest.raises(InvalidSetting, match="^SENDER_RATE_LIMIT must be an integer ≥ 0"):
        create_app({"LOAD_ENTRYPOINTS": False})  # instance/config.py: named by its key
    with pytest.raises(InvalidSetting, match="^PUSH_MAX_ATTEMPTS must be an integer ≥ 1"):
        create_app({"LOAD_ENTRYPOINTS": False, "SENDER_RATE_LIMIT": 0, "PUSH_MAX_ATTEMPTS": 0})


def test_valid_settings_from_the_environment_still_start(tmp_path, monkeypatch):
    monkeypatch.setenv("ORQO_INSTANCE_PATH", str(tmp_path))
    for variable, value in [("ORQO_SENDER_RATE_LIMIT", "0"), ("ORQO_PUSH_TIMEOUT", "2.5"),
                            ("ORQO_LOAD_ENTRYPOINTS", "false"), ("ORQO_LOG_FORMAT", "text"),
                            ("ORQO_SQLITE_SYNCHRONOUS", "full"), ("ORQO_DISABLED_PLUGINS", "a,b"),
                            ("ORQO_RETENTION_LEDGER_DAYS", "0")]:
        monkeypatch.setenv(variable, value)
    assert create_app().config["PUSH_TIMEOUT"] == 2.5


def test_the_cli_refuses_invalid_settings_in_one_line(tmp_path):
    env = orqo_env(tmp_path, ORQO_SENDER_RATE_LIMIT="lots")
    for args in (["apps", "list"], ["init-db"], ["db", "current"]):
        result = CliRunner().invoke(main, args, env=env)
        assert result.exit_code == 1, result.output
        error = one_error_line(result.stderr)
        assert error["code"] == "invalid_setting"
        assert error["message"] == "ORQO_SENDER_RATE_LIMIT must be an integer ≥ 0, got 'lots'"
        assert error["details"] == {"setting": "ORQO_SENDER_RATE_LIMIT"}
    helped = CliRunner().invoke(main, ["--help"], env=env)  # the help still shows
    assert helped.exit_code == 0 and "Usage: orqo" in helped.stdout
    assert one_error_line(helped.stderr)["code"] == "invalid_setting"


def test_gunicorn_refuses_invalid_settings_with_one_line(tmp_path):
    env = orqo_env(tmp_path, ORQO_PUSH_MAX_ATTEMPTS="abc")
    started = time.monotonic()
    result = subprocess.run(
        [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "--bind",
         f"127.0.0.1:{free_port()}", "--workers", "1", "wsgi:app"],
        cwd=CHECKOUT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "orqo: ORQO_PUSH_MAX_ATTEMPTS must be an integer ≥ 1, got 'abc'\n" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "Booting worker" not in result.stderr  # the master refused before any worker
    assert time.monotonic() - started < 30


# --- The command line's errors ----------------------------------------------------------------

def test_commands_before_init_db_fail_in_one_line_without_the_secret(make_app):
    runner = make_app(plugins=[orqo_custom], create_tables=False).test_cli_runner()
    for args in (["apps", "create", "--name", "demo", "--adapter", "custom", "--credential",
                  f"signing_secret={SECRET}"],
                 ["apps", "list"], ["events", "list"], ["tokens", "list"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1, result.output
        error = one_error_line(result.stderr)
        assert error["code"] == "database_not_initialised", error
        assert "orqo init-db" in error["message"]
        assert SECRET not in result.output and "INSERT" not in result.output


def test_a_refused_command_is_one_line(runner):
    result = runner.invoke(args=["apps", "create", "--name", "X", "--adapter", "nope"])
    assert result.exit_code == 1
    assert one_error_line(result.stderr)["code"] == "validation_error"


def test_the_real_orqo_before_init_db_is_one_line(tmp_path):
    env = orqo_env(tmp_path)
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "orqo.sqlite3").write_bytes(b"")  # an empty SQLite file
    created = run_orqo(env, "apps", "create", "--name", "demo", "--adapter", "custom",
                       "--credential", f"signing_secret={SECRET}")
    assert created.returncode == 1
    assert one_error_line(created.stderr)["code"] == "database_not_initialised"
    assert created.stdout == "" and SECRET not in created.stderr
    assert run_orqo(env, "init-db").returncode == 0
    assert run_orqo(env, "apps", "list", "--json").stdout.strip() == "[]"


def test_the_real_orqo_against_a_missing_postgresql_database_is_one_line(tmp_path):
    base = os.environ.get("ORQO_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    parts = urlsplit(base)
    assert parts.hostname in ("127.0.0.1", "::1", "localhost")
    missing = urlunsplit(parts._replace(path="/orqo_no_such_database"))
    env = orqo_env(tmp_path, ORQO_DATABASE_URL=missing, ORQO_DATABASE_CONNECT_TIMEOUT="2")
    for args in (["init-db"], ["apps", "list"], ["apps", "create", "--name", "d", "--adapter",
                                                 "custom", "--credential",
                                                 f"signing_secret={SECRET}"]):
        result = run_orqo(env, *args)
        assert result.returncode == 1, result.stderr
        error = one_error_line(result.stderr)
        assert error["code"] == "database_unavailable", error
        assert SECRET not in result.stderr and "Traceback" not in result.stderr
