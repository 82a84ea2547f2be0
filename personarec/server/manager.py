"""Install, start, stop and inspect the managed Neo4j server."""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from personarec.config import ServerConfig, Settings
from personarec.errors import ServerError
from personarec.server.process import free_port, pid_alive, port_answers, port_free, read_pid, spawn, terminate

log = logging.getLogger(__name__)

MAIN_CLASS_5X = "org.neo4j.server.CommunityEntryPoint"
MAIN_CLASS_2025 = "org.neo4j.server.Neo4jCommunity"
ADMIN_CLASS = "org.neo4j.cli.AdminTool"
_COMPLETE = ".complete"
#: The server's files (store, transaction logs, auth) are readable by its owner only.
HOME_MODE = 0o700
SERVER_UMASK = 0o077

# The flags Neo4j's own launcher passes (bin/neo4j); without the add-opens Netty and the page cache
# fall back to slower code paths on Java 17+.
_JVM_FLAGS = [
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dlog4j2.disable.jmx=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
]


@dataclass(frozen=True)
class ServerStatus:
    """What ``personarec neo4j status`` reports."""

    running: bool
    pid: int | None
    version: str | None
    bolt_uri: str
    browser_url: str
    home: Path


class ManagedNeo4j:
    """A Neo4j server living under ``config.home`` with jars from ``config.jar_cache``.

    Args:
        config: server settings (ports, memory, versions, folders).
        password: the password to set on first start; ``None`` reads ``home/password`` or generates
            one there (mode 0600).
        user: the admin user name (Neo4j's initial user is ``neo4j``).
    """

    def __init__(self, config: ServerConfig, password: str | None = None, user: str = "neo4j") -> None:
        self.config = config
        self.home = Path(config.home).expanduser().resolve()
        self.dist = Path(config.jar_cache).expanduser().resolve() / config.version
        self.user = user
        self._password = password

    # ----------------------------------------------------------------- paths
    @property
    def conf_dir(self) -> Path:
        return self.home / "conf"

    @property
    def pid_file(self) -> Path:
        return self.home / "run" / "neo4j.pid"

    @property
    def password_file(self) -> Path:
        return self.home / "password"

    @property
    def bolt_uri(self) -> str:
        return f"bolt://127.0.0.1:{self.config.bolt_port}"

    @property
    def browser_url(self) -> str:
        return f"http://127.0.0.1:{self.config.http_port}/browser/"

    # -------------------------------------------------------------- password
    @property
    def password(self) -> str:
        """The configured password, else the one kept in ``home/password`` (generated on first use)."""
        if self._password:
            return self._password
        if self.password_file.exists():
            return self.password_file.read_text().strip()
        self.make_home()
        generated = secrets.token_urlsafe(18)
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(generated + "\n")
        log.info("generated a Neo4j password into %s", self.password_file)
        return generated

    # --------------------------------------------------------------- install
    def _tool(self, configured: str | None, name: str, hint: str) -> str:
        found = configured or shutil.which(name)
        if name == "java" and not configured and self.config.java_home:
            candidate = Path(self.config.java_home) / "bin" / "java"
            found = str(candidate) if candidate.exists() else found
        if not found:
            raise ServerError(f"`{name}` was not found: {hint}")
        return found

    def java(self) -> str:
        java = self._tool(self.config.java, "java", "install a Java 17 or 21 runtime (e.g. `apt-get install "
                          "openjdk-17-jre-headless`) or set JAVA_HOME.")
        out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
        match = re.search(r'version "(\d+)', out)
        major = int(match.group(1)) if match else 0
        needed = 21 if not self.config.version.startswith("5.") else 17
        if major < needed:
            raise ServerError(f"Neo4j {self.config.version} needs Java {needed}+, but {java} is Java {major}; "
                              "install a newer JDK or set JAVA_HOME.")
        return java

    def installed(self) -> bool:
        return (self.dist / _COMPLETE).exists()

    def install(self) -> Path:
        """Assemble the server's jars from Maven Central into the jar cache (once per version)."""
        if self.installed():
            return self.dist
        mvn = self._tool(self.config.mvn, "mvn", "install Apache Maven (e.g. `apt-get install maven`) so the "
                         "Neo4j jars can be fetched from Maven Central.")
        self.java()
        log.info("assembling Neo4j %s from Maven Central into %s", self.config.version, self.dist)
        self.dist.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{self.config.version}-", dir=self.dist.parent))
        try:
            pom = staging / "pom.xml"
            pom.write_text(resources.files("personarec.server").joinpath("pom.xml").read_text())
            cmd = [mvn, "-q", "-B", "-f", str(pom), "package",
                   f"-Dneo4j.version={self.config.version}", f"-Dapoc.version={self.config.apoc_version}",
                   f"-Dbrowser.version={self.config.browser_version}", f"-Dassembly.dir={staging / 'dist'}"]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                errors = [ln for ln in proc.stdout.splitlines() + proc.stderr.splitlines() if "ERROR" in ln]
                raise ServerError("Maven could not fetch the Neo4j jars: "
                                  + (errors[0] if errors else f"mvn exited with {proc.returncode}"))
            (staging / "dist" / _COMPLETE).write_text(self.config.version + "\n")
            if self.dist.exists():
                shutil.rmtree(self.dist)
            (staging / "dist").rename(self.dist)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self.dist

    # ------------------------------------------------------------ configure
    def make_home(self) -> None:
        """Create the home with mode 0700, or tighten an existing one (older homes were world-readable).

        The mode of the home alone keeps other users out of everything below it; the auth files are
        tightened too, and the server and admin tool run under umask 077 so their new files are 0600.
        """
        self.home.mkdir(mode=HOME_MODE, parents=True, exist_ok=True)
        os.chmod(self.home, HOME_MODE)
        for sub in ("data", "data/dbms"):
            if (self.home / sub).is_dir():
                os.chmod(self.home / sub, HOME_MODE)
        for path in (self.home / "data" / "dbms").glob("*.ini"):
            os.chmod(path, 0o600)

    def write_conf(self) -> Path:
        """Write ``conf/neo4j.conf``: loopback only, fixed ports, memory sized for a 2-core box."""
        cfg = self.config
        self.make_home()
        for sub in ("conf", "data", "logs", "import", "run"):
            (self.home / sub).mkdir(mode=HOME_MODE, parents=True, exist_ok=True)
        lines = [
            "# Written by personarec; edits are overwritten on `personarec neo4j start`.",
            f"server.default_listen_address={cfg.listen_address}",
            f"server.bolt.listen_address={cfg.listen_address}:{cfg.bolt_port}",
            f"server.http.listen_address={cfg.listen_address}:{cfg.http_port}",
            f"server.bolt.advertised_address=127.0.0.1:{cfg.bolt_port}",
            f"server.http.advertised_address=127.0.0.1:{cfg.http_port}",
            "server.https.enabled=false",
            "dbms.security.auth_enabled=true",
            "server.memory.heap.initial_size=512m",
            f"server.memory.heap.max_size={cfg.heap}",
            f"server.memory.pagecache.size={cfg.pagecache}",
            "dbms.security.procedures.unrestricted=apoc.*",
            "dbms.security.procedures.allowlist=apoc.*",
            "dbms.usage_report.enabled=false",
            "db.tx_log.rotation.retention_policy=1 files",
            f"server.directories.data={self.home / 'data'}",
            f"server.directories.logs={self.home / 'logs'}",
            f"server.directories.import={self.home / 'import'}",
            f"server.directories.run={self.home / 'run'}",
            f"server.directories.plugins={self.dist / 'plugins'}",
            f"server.directories.lib={self.dist / 'lib'}",
        ]
        path = self.conf_dir / "neo4j.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def _env(self) -> dict[str, str]:
        return {**os.environ, "NEO4J_HOME": str(self.home), "NEO4J_CONF": str(self.conf_dir)}

    def admin_command(self, java: str, args_file: Path) -> list[str]:
        """argv of ``neo4j-admin dbms set-initial-password`` with the password read from ``args_file``.

        The admin tool (picocli) expands an ``@file`` argument into the arguments written in that file, so
        the password never appears on a command line (``ps``, ``/proc/<pid>/cmdline``).
        """
        # file.encoding: picocli reads the @file in it (Java 17 would use the locale's)
        return [java, "-Dfile.encoding=UTF-8", "-cp", f"{self.dist / 'lib'}/*", ADMIN_CLASS, "dbms",
                "set-initial-password", f"@{args_file}"]

    def _set_initial_password(self, java: str) -> None:
        password = self.password
        if len(password) < 8:
            raise ServerError("the Neo4j password must have at least 8 characters.")
        if any(ch in password for ch in "\r\n\0"):
            raise ServerError("the Neo4j password must not contain line breaks or NUL characters.")
        self.make_home()
        args_file = self.home / "run" / "set-initial-password.args"
        args_file.parent.mkdir(mode=HOME_MODE, parents=True, exist_ok=True)
        args_file.unlink(missing_ok=True)
        fd = os.open(args_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                # "--" ends the options: a password starting with "-" (one generated password in 64) is the
                # positional argument, not an unknown option
                fh.write("--\n" + _args_file_quote(password) + "\n")
            proc = subprocess.run(self.admin_command(java, args_file), capture_output=True, text=True,
                                  env=self._env(), stdin=subprocess.DEVNULL, umask=SERVER_UMASK)
        finally:
            args_file.unlink(missing_ok=True)
        if proc.returncode != 0:
            raise ServerError(f"setting the initial Neo4j password failed: {(proc.stderr or proc.stdout).strip()}")

    # ------------------------------------------------------------ lifecycle
    def pid(self) -> int | None:
        """PID of the running server, or None (a stale pid file is removed)."""
        return read_pid(self.pid_file)

    def running(self) -> bool:
        return self.pid() is not None

    def start(self) -> bool:
        """Start the server in the background and wait until Bolt answers.

        Returns False when it was already running (starting twice is harmless).
        """
        if self.running():
            self._wait_ready(self.pid())  # type: ignore[arg-type]
            return False
        cfg = self.config
        for port in (cfg.bolt_port, cfg.http_port):
            if not port_free(cfg.listen_address, port):
                raise ServerError(f"port {port} on {cfg.listen_address} is already in use by another process; "
                                  "stop it or choose other ports (PERSONAREC_SERVER__BOLT_PORT / __HTTP_PORT).")
        self.install()
        java = self.java()
        self.write_conf()
        if not (self.home / "data" / "dbms").exists():
            self._set_initial_password(java)
        main_class = MAIN_CLASS_5X if cfg.version.startswith("5.") else MAIN_CLASS_2025
        cmd = [java, "-Xms512m", f"-Xmx{cfg.heap}", *_JVM_FLAGS,
               "-cp", f"{self.dist / 'plugins'}/*:{self.dist / 'lib'}/*", main_class,
               f"--home-dir={self.home}", f"--config-dir={self.conf_dir}"]
        pid = spawn(cmd, self.pid_file, self.home / "logs" / "console.log", cwd=self.home, env=self._env(),
                    umask=SERVER_UMASK)
        log.info("Neo4j %s starting (pid %d)", cfg.version, pid)
        try:
            self._wait_ready(pid)
        except ServerError:
            self.stop()
            raise
        return True

    def _wait_ready(self, pid: int) -> None:
        deadline = time.monotonic() + self.config.start_timeout_s
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                raise ServerError(f"Neo4j exited during start-up: {self._last_error()}")
            if port_answers("127.0.0.1", self.config.bolt_port) and port_answers("127.0.0.1",
                                                                                   self.config.http_port):
                return
            time.sleep(0.25)
        raise ServerError(f"Neo4j did not answer on Bolt port {self.config.bolt_port} within "
                          f"{self.config.start_timeout_s:.0f} s; see {self.home / 'logs' / 'neo4j.log'}.")

    def _last_error(self) -> str:
        for name in ("neo4j.log", "console.log"):
            path = self.home / "logs" / name
            if path.exists():
                lines = [ln for ln in path.read_text(errors="replace").splitlines()
                         if "ERROR" in ln or "Exception" in ln]
                if lines:
                    return lines[-1].strip()[:300]
        return f"no error logged; see {self.home / 'logs'}"

    def stop(self, timeout_s: float = 60.0) -> bool:
        """Stop the server by its PID (SIGTERM, then SIGKILL). Returns False if it was not running."""
        return terminate(self.pid_file, "Neo4j", timeout_s)

    def status(self, version: str | None = None) -> ServerStatus:
        pid = self.pid()
        return ServerStatus(running=pid is not None, pid=pid, version=version, bolt_uri=self.bolt_uri,
                            browser_url=self.browser_url, home=self.home)


def _args_file_quote(value: str) -> str:
    """``value`` as one argument of a picocli ``@file``: double-quoted, backslashes and quotes escaped
    (picocli reads the file with a ``StreamTokenizer`` that unescapes them inside quotes)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@contextmanager
def private_server(home: Path, password: str, *, env: Mapping[str, str] | None = None,
                   **server: str) -> Iterator[Settings]:
    """A managed Neo4j under ``home`` on free ports, for tests and benchmarks; stopped on exit.

    ``env`` is the environment the settings are read from (default: ours without ``NEO4J_*``, so a
    configured external server is never used); ``server`` overrides fields of ``[server]``, e.g.
    ``heap="2g"``. Yields the :class:`Settings` that point at it.
    """
    from personarec.config import load_settings

    base = {k: v for k, v in (os.environ if env is None else env).items() if not k.startswith("NEO4J_")}
    base.update({"PERSONAREC_SERVER__HOME": str(home), "PERSONAREC_SERVER__BOLT_PORT": str(free_port()),
                 "PERSONAREC_SERVER__HTTP_PORT": str(free_port()), "NEO4J_PASSWORD": password})
    base.update({f"PERSONAREC_SERVER__{key.upper()}": str(value) for key, value in server.items()})
    settings = load_settings(env=base)
    managed = ManagedNeo4j(settings.server, password=password)
    managed.start()
    try:
        yield settings
    finally:
        managed.stop()
