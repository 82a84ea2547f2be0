"""The managed server for real: a second instance on free ports, started, probed and stopped."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest

from personarec.server.process import free_port
from personarec.config import load_settings
from personarec.errors import ServerError
from personarec.graph import connect
from personarec.server import ManagedNeo4j
from personarec.server.process import pid_alive


def _settings(home: Path, **env: str):
    base = {"PERSONAREC_SERVER__HOME": str(home), "PERSONAREC_SERVER__BOLT_PORT": str(free_port()),
            "PERSONAREC_SERVER__HTTP_PORT": str(free_port())}
    return load_settings(env={**base, **env})


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
