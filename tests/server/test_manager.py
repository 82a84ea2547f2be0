"""The managed server for real: a second instance on free ports, started, probed and stopped."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import urllib.request
from pathlib import Path

import pytest

from personarec.config import load_settings
from personarec.errors import ServerError
from personarec.graph import connect
from personarec.server import ManagedNeo4j, private_server
from personarec.server.process import free_port, pid_alive


def _settings(home: Path, **env: str):
    base = {"PERSONAREC_SERVER__HOME": str(home), "PERSONAREC_SERVER__BOLT_PORT": str(free_port()),
            "PERSONAREC_SERVER__HTTP_PORT": str(free_port())}
    return load_settings(env={**base, **env})


@pytest.mark.neo4j  # starts its own server
def test_start_twice_status_browser_and_clean_stop(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home")
    server = ManagedNeo4j(settings.server)  # no password given: generated into a 0600 file
    try:
        assert server.start() is True
        assert server.start() is False  # harmless second start
        pid = server.pid()
        assert pid is not None and pid_alive(pid)
        assert (server.password_file.stat().st_mode & 0o777) == 0o600
        conf = (server.conf_dir / "neo4j.conf").read_text()
        assert "server.default_listen_address=127.0.0.1" in conf
        page = urllib.request.urlopen(server.browser_url, timeout=10).read().decode()
        assert "<title>Neo4j Browser</title>" in page
        with connect(settings) as graph:  # password comes from the server's file
            assert graph.server_version().startswith(settings.server.version)
            assert graph.execute("RETURN apoc.version() AS v")[0]["v"].startswith("5.26")
    finally:
        assert server.stop() is True
    assert not pid_alive(pid)
    assert server.pid() is None
    assert server.stop() is False


def test_port_in_use_is_one_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = _settings(tmp_path / "home", PERSONAREC_SERVER__BOLT_PORT=str(port))
        with pytest.raises(ServerError, match=f"port {port} .* already in use"):
            ManagedNeo4j(settings.server, password="password-123").start()


def test_missing_maven_says_what_to_install(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home", PERSONAREC_SERVER__JAR_CACHE=str(tmp_path / "empty-cache"),
                         PERSONAREC_SERVER__MVN=str(tmp_path / "no-mvn"))
    server = ManagedNeo4j(settings.server, password="password-123")
    server.config.mvn = None
    import shutil

    if shutil.which("mvn") is None:
        pytest.skip("mvn absent; the error path is covered by the next assertion")
    # Hide mvn from PATH for this call only.
    import os

    old = os.environ["PATH"]
    os.environ["PATH"] = str(tmp_path)
    try:
        with pytest.raises(ServerError, match="install Apache Maven"):
            server.install()
    finally:
        os.environ["PATH"] = old


def test_short_password_is_rejected(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home")
    server = ManagedNeo4j(settings.server, password="short")
    with pytest.raises(ServerError, match="at least 8 characters"):
        server.start()
    assert server.pid() is None


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.neo4j  # starts its own server
def test_home_is_private_and_the_password_never_on_a_command_line(tmp_path: Path) -> None:
    """Probe 8: an old world-readable home is tightened to 0700, the server's new files are owner-only,
    and the initial password reaches neo4j-admin through a 0600 @file, not argv (visible in ``ps``)."""
    # a leading dash, quotes, backslash, comment sign, space, non-ASCII: all survive the @file
    password = '-pa ss"wo\\rd#1\'é'
    real_java = shutil.which("java")
    if real_java is None:
        pytest.skip("java not found")
    argv_log = tmp_path / "argv.log"
    wrapper = tmp_path / "java"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {argv_log}\nexec {real_java} "$@"\n')
    wrapper.chmod(0o700)
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True, mode=0o755)
    home.chmod(0o755)  # as homes made by earlier versions were
    with private_server(home, password, java=str(wrapper)) as settings:
        with connect(settings) as graph:  # the exact password was set
            assert graph.execute("RETURN 1 AS one")[0]["one"] == 1
        assert _mode(home) == 0o700 and _mode(home / "data") == 0o700
        assert _mode(home / "data" / "dbms" / "auth.ini") == 0o600
        store_files = [p for p in (home / "data").rglob("*") if p.is_file()]
        assert len(store_files) > 10
        assert all(_mode(p) & 0o077 == 0 for p in store_files), [p for p in store_files if _mode(p) & 0o077]
        assert _mode(home / "logs" / "console.log") == 0o600
        assert not list((home / "run").glob("*.args"))  # the password file is gone after use
        pid = ManagedNeo4j(settings.server).pid()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        assert "set-initial-password" not in cmdline and password not in cmdline
    calls = argv_log.read_text().splitlines()
    admin = [c for c in calls if "set-initial-password" in c]
    assert len(admin) == 1 and "@" in admin[0]
    assert all(password not in c and "pa ss" not in c for c in calls)


def test_admin_command_names_a_file_not_the_password(tmp_path: Path) -> None:
    server = ManagedNeo4j(_settings(tmp_path / "home").server, password="secret-password-123")
    cmd = server.admin_command("java", tmp_path / "args")
    assert cmd[-3:] == ["dbms", "set-initial-password", f"@{tmp_path / 'args'}"]
    assert not any("secret-password-123" in part for part in cmd)


def test_make_home_creates_and_tightens(tmp_path: Path) -> None:
    home = tmp_path / "a" / "home"
    server = ManagedNeo4j(_settings(home).server, password="password-123")
    server.make_home()
    assert _mode(home) == 0o700
    (home / "data" / "dbms").mkdir(parents=True, mode=0o755)
    (home / "data" / "dbms" / "auth.ini").write_text("x")
    os.chmod(home / "data" / "dbms" / "auth.ini", 0o644)
    home.chmod(0o755)
    server.make_home()
    assert [_mode(p) for p in (home, home / "data", home / "data" / "dbms", home / "data" / "dbms" / "auth.ini")] \
        == [0o700, 0o700, 0o700, 0o600]
