"""A managed local Virtuoso: a private DBpedia mirror for ``personarec enrich dbpedia`` and the tests.

Debian's ``virtuoso-t`` (package ``virtuoso-opensource``, the engine DBpedia itself runs) is started with
its own ini under ``home`` (database, logs, PID file), bound to 127.0.0.1 on configurable ports, so it
never collides with the packaged service on 1111/8890. ``*.nt.gz`` dumps are bulk-loaded with
``ld_dir`` + ``rdf_loader_run`` into the graph ``http://dbpedia.org`` (the public endpoint's default
graph), free-text indexed so ``bif:contains`` works as on dbpedia.org, and the ``dbo:``/``dbr:``/``dct:``
prefixes are declared (Virtuoso does not predefine them). Entry point: :class:`ManagedVirtuoso`.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from personarec.errors import ServerError
from personarec.server.process import pid_alive, port_answers, port_free, read_pid, spawn, terminate

log = logging.getLogger(__name__)

DBPEDIA_GRAPH = "http://dbpedia.org"
#: Prefixes the DBpedia queries use; dbpedia.org predefines them, a fresh Virtuoso does not.
PREFIXES: dict[str, str] = {
    "dbo": "http://dbpedia.org/ontology/",
    "dbr": "http://dbpedia.org/resource/",
    "dct": "http://purl.org/dc/terms/",
    "dbp": "http://dbpedia.org/property/",
}
_SHADOWING_PREFIXES = ("dbpedia", "dbpprop")
_DBA = ("dba", "dba")  # a fresh database's admin login; the server listens on loopback only
_SAFE_PATH = re.compile(r"^[\w./ +@:,-]+$")

_INI = """; Written by personarec; rewritten on every `personarec dbpedia-mirror start`.
[Database]
DatabaseFile       = {db}/virtuoso.db
ErrorLogFile       = {db}/virtuoso.log
LockFile           = {db}/virtuoso.lck
TransactionFile    = {db}/virtuoso.trx
xa_persistent_file = {db}/virtuoso.pxa
ErrorLogLevel      = 7
FileExtend         = 200
MaxCheckpointRemap = 2000
Striping           = 0
TempStorage        = TempDatabase

[TempDatabase]
DatabaseFile       = {db}/virtuoso-temp.db
TransactionFile    = {db}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping           = 0

[Parameters]
ServerPort            = 127.0.0.1:{sql_port}
DisableUnixSocket     = 1
MaxClientConnections  = 10
CheckpointInterval    = 60
CaseMode              = 2
DirsAllowed           = {dirs}
; about 170 MB of buffers: enough for DBpedia subsets on a shared 2-core box
NumberOfBuffers       = 20000
MaxDirtyBuffers       = 15000
ThreadsPerQuery       = 2
AsyncQueueMaxThreads  = 4
FreeTextBatchSize     = 100000

[HTTPServer]
ServerPort            = 127.0.0.1:{http_port}
ServerRoot            = {home}/vsp
MaxClientConnections  = 5
ServerThreads         = 5
Charset               = UTF-8
EnabledGzipContent    = 1

[SPARQL]
ResultSetMaxRows           = 100000
MaxQueryExecutionTime      = 120
MaxQueryCostEstimationTime = 400
"""


@dataclass(frozen=True)
class MirrorStatus:
    """What ``personarec dbpedia-mirror status`` reports."""

    running: bool
    pid: int | None
    endpoint: str
    home: Path
    triples: int | None
    loaded_files: list[str]


def _sql_literal(text: str) -> str:
    """A single-quoted Virtuoso SQL string literal: quotes doubled, backslashes and control characters refused."""
    if "\\" in text or any(ord(ch) < 32 for ch in text):
        raise ServerError(f"refusing {text!r} in SQL: no backslashes or control characters.")
    return "'" + text.replace("'", "''") + "'"


class ManagedVirtuoso:
    """A Virtuoso server living under ``home`` on 127.0.0.1 ``sql_port`` (isql) and ``http_port`` (SPARQL).

    Args:
        home: folder for the ini, the database, the log and the PID file.
        sql_port: isql/ODBC port (the packaged service uses 1111; default here 1112).
        http_port: HTTP port; SPARQL is served at ``/sparql`` (packaged default 8890; here 8891).
        start_timeout_s: seconds to wait for both ports and the SPARQL endpoint to answer.
        virtuoso: path of ``virtuoso-t`` (default: PATH).
        isql: path of ``isql-vt`` (default: PATH).
    """

    def __init__(self, home: Path, sql_port: int = 1112, http_port: int = 8891, start_timeout_s: float = 60.0,
                 virtuoso: str | None = None, isql: str | None = None) -> None:
        self.home = Path(home).expanduser().resolve()
        self.sql_port = sql_port
        self.http_port = http_port
        self.start_timeout_s = start_timeout_s
        self._virtuoso = virtuoso
        self._isql = isql

    @classmethod
    def from_settings(cls, settings: object) -> ManagedVirtuoso:
        """Build from :class:`personarec.config.Settings` (its ``dbpedia.mirror_*`` fields)."""
        cfg = settings.dbpedia  # type: ignore[attr-defined]
        return cls(cfg.mirror_home, cfg.mirror_sql_port, cfg.mirror_http_port, cfg.mirror_start_timeout_s)

    # ----------------------------------------------------------------- paths
    @property
    def db_dir(self) -> Path:
        return self.home / "db"

    @property
    def ini_file(self) -> Path:
        return self.home / "virtuoso.ini"

    @property
    def pid_file(self) -> Path:
        return self.home / "virtuoso.pid"

    @property
    def dirs_file(self) -> Path:
        """Data folders the server may read (``DirsAllowed``), one per line, kept across restarts."""
        return self.home / "dirs-allowed"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/sparql"

    # ----------------------------------------------------------------- tools
    @staticmethod
    def available() -> bool:
        """True when ``virtuoso-t`` and ``isql-vt`` are on PATH."""
        return bool(shutil.which("virtuoso-t") and shutil.which("isql-vt"))

    def _tool(self, configured: str | None, name: str) -> str:
        found = configured or shutil.which(name)
        if not found:
            raise ServerError(f"`{name}` was not found: install Virtuoso (`apt-get install virtuoso-opensource`).")
        return found

    # ------------------------------------------------------------ configure
    def allowed_dirs(self) -> list[Path]:
        if not self.dirs_file.exists():
            return []
        return [Path(line) for line in self.dirs_file.read_text().splitlines() if line.strip()]

    def _allow(self, folder: Path) -> bool:
        """Add ``folder`` to DirsAllowed; True when it was new (the server must then restart to see it)."""
        dirs = self.allowed_dirs()
        if folder in dirs:
            return False
        self.home.mkdir(parents=True, exist_ok=True)
        self.dirs_file.write_text("".join(f"{d}\n" for d in [*dirs, folder]))
        return True

    def write_ini(self) -> Path:
        """Write the private ini: loopback ports, database in ``home/db``, the data folders allowed."""
        self.db_dir.mkdir(parents=True, exist_ok=True)
        (self.home / "vsp").mkdir(parents=True, exist_ok=True)
        dirs = ", ".join([".", *(str(d) for d in self.allowed_dirs())])
        self.ini_file.write_text(_INI.format(db=self.db_dir, home=self.home, sql_port=self.sql_port,
                                             http_port=self.http_port, dirs=dirs))
        return self.ini_file

    # ------------------------------------------------------------ lifecycle
    def pid(self) -> int | None:
        """PID of the running server, or None (a stale PID file is removed)."""
        return read_pid(self.pid_file)

    def running(self) -> bool:
        return self.pid() is not None

    def start(self, load: Path | None = None) -> bool:
        """Start in the background (``+foreground`` under our PID file) and wait until SPARQL answers.

        ``load``: a folder of ``*.nt.gz`` to load afterwards (see :meth:`load`). Returns False when the
        server was already running (starting twice is harmless).
        """
        if load is not None:
            folder = self._check_dir(load)
            if self._allow(folder) and self.running():
                log.info("restarting the mirror so it may read %s", folder)
                self.stop()
        started = self._start()
        if load is not None:
            self.load(load)
        return started

    def _start(self) -> bool:
        if self.running():
            self._wait_ready(self.pid())  # type: ignore[arg-type]
            return False
        for port in (self.sql_port, self.http_port):
            if not port_free("127.0.0.1", port):
                raise ServerError(f"port {port} on 127.0.0.1 is already in use by another process; choose other "
                                  "ports (PERSONAREC_DBPEDIA__MIRROR_SQL_PORT / __MIRROR_HTTP_PORT).")
        binary = self._tool(self._virtuoso, "virtuoso-t")
        self.write_ini()
        pid = spawn([binary, "+foreground", "+configfile", str(self.ini_file)], self.pid_file,
                    self.home / "console.log", cwd=self.db_dir)
        log.info("Virtuoso starting (pid %d), SPARQL at %s", pid, self.endpoint)
        try:
            self._wait_ready(pid)
        except ServerError:
            self.stop()
            raise
        return True

    def _sparql_answers(self) -> bool:
        url = self.endpoint + "?" + urllib.parse.urlencode({"query": "ASK {}", "format": "application/json"})
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback URL we built
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _wait_ready(self, pid: int) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                raise ServerError(f"Virtuoso exited during start-up: {self._last_error()}")
            if port_answers("127.0.0.1", self.sql_port) and self._sparql_answers():
                return
            time.sleep(0.25)
        raise ServerError(f"Virtuoso did not answer on 127.0.0.1:{self.http_port} within "
                          f"{self.start_timeout_s:.0f} s; see {self.db_dir / 'virtuoso.log'}.")

    def _last_error(self) -> str:
        for path in (self.home / "console.log", self.db_dir / "virtuoso.log"):
            if path.exists():
                lines = [ln for ln in path.read_text(errors="replace").splitlines()
                         if "ERROR" in ln.upper() or "FAILED" in ln.upper() or "cannot" in ln.lower()]
                if lines:
                    return lines[-1].strip()[:300]
        return f"no error logged; see {self.home}"

    def stop(self, timeout_s: float = 60.0) -> bool:
        """Stop the server by its PID (SIGTERM: Virtuoso checkpoints and exits; then SIGKILL)."""
        return terminate(self.pid_file, "Virtuoso", timeout_s)

    # ------------------------------------------------------------------ SQL
    def isql(self, sql: str, timeout_s: float = 1800.0) -> str:
        """Run SQL statements through ``isql-vt`` as dba; a Virtuoso error becomes a :class:`ServerError`."""
        if not self.running():
            raise ServerError(f"the DBpedia mirror is not running (home {self.home}); start it with "
                              "`personarec dbpedia-mirror start`.")
        isql = self._tool(self._isql, "isql-vt")
        # The statements go through stdin, not argv, so no shell or argument quoting is involved.
        proc = subprocess.run([isql, f"127.0.0.1:{self.sql_port}", *_DBA, "VERBOSE=OFF", "BANNER=OFF",
                               "PROMPT=OFF", "ERRORS=STDOUT"],
                              input=sql + "\n", capture_output=True, text=True, timeout=timeout_s)
        out = proc.stdout + proc.stderr
        errors = [ln for ln in out.splitlines() if "*** Error" in ln]
        if proc.returncode != 0 or errors:
            raise ServerError(f"Virtuoso rejected the SQL: {(errors or out.strip().splitlines() or ['?'])[0]}")
        return out

    def _check_dir(self, folder: Path) -> Path:
        folder = Path(folder).expanduser().resolve()
        if not folder.is_dir():
            raise ServerError(f"{folder} is not a folder of *.nt.gz files.")
        if not any(folder.glob("*.nt.gz")):
            raise ServerError(f"{folder} holds no *.nt.gz files to load.")
        if not _SAFE_PATH.match(str(folder)):
            raise ServerError(f"refusing the path {folder}: use letters, digits and ./_-+@:, only.")
        return folder

    def load(self, folder: Path, pattern: str = "*.nt.gz", graph: str = DBPEDIA_GRAPH) -> list[str]:
        """Bulk-load ``folder/pattern`` into ``graph``; idempotent (loaded files are skipped).

        Enables the free-text index on literals first (so ``bif:contains`` works as on dbpedia.org),
        then ``ld_dir`` + ``rdf_loader_run`` + ``checkpoint``, syncs the text index and declares the
        DBpedia prefixes. Returns the files the server reports as loaded.
        """
        folder = self._check_dir(folder)
        if self._allow(folder) or not self.running():
            self.stop()
            self._start()
        sql = [
            "DB.DBA.RDF_OBJ_FT_RULE_ADD (null, null, 'index_local');",
            f"ld_dir ({_sql_literal(str(folder))}, {_sql_literal(pattern)}, {_sql_literal(graph)});",
            "rdf_loader_run ();",
            "checkpoint;",
            "DB.DBA.VT_INC_INDEX_DB_DBA_RDF_OBJ ();",
            # A namespace URI keeps one prefix: Virtuoso's own 'dbpedia'/'dbpprop' would shadow dbr:/dbp:.
            *(f"DB.DBA.XML_REMOVE_NS_BY_PREFIX ('{p}', 2);" for p in _SHADOWING_PREFIXES),
            *(f"DB.DBA.XML_SET_NS_DECL ('{p}', '{uri}', 2);" for p, uri in PREFIXES.items()),
            "checkpoint;",
        ]
        self.isql("\n".join(sql))
        failed = self._load_list(errors_only=True)
        if failed:
            raise ServerError(f"Virtuoso could not load {failed[0]}.")
        return self.loaded_files()

    def _load_list(self, errors_only: bool = False) -> list[str]:
        cond = "ll_error IS NOT NULL" if errors_only else "ll_state = 2 AND ll_error IS NULL"
        out = self.isql(f"SELECT ll_file || ' ' || coalesce (ll_error, '') FROM DB.DBA.load_list WHERE {cond};")
        return [ln.strip() for ln in out.splitlines() if ln.strip().startswith("/")]

    def loaded_files(self) -> list[str]:
        """Files the loader has finished without error."""
        return self._load_list()

    def triples(self, graph: str = DBPEDIA_GRAPH) -> int:
        """Number of triples in ``graph`` (over SPARQL)."""
        query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
        url = self.endpoint + "?" + urllib.parse.urlencode({"query": query, "format": "text/csv"})
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - loopback URL we built
                return int(resp.read().decode().splitlines()[1].strip().strip('"'))
        except (urllib.error.URLError, OSError, ValueError, IndexError) as exc:
            raise ServerError(f"the mirror at {self.endpoint} did not answer a count: {exc}") from exc

    def status(self) -> MirrorStatus:
        pid = self.pid()
        triples = self.triples() if pid is not None else None
        files = self.loaded_files() if pid is not None else []
        return MirrorStatus(running=pid is not None, pid=pid, endpoint=self.endpoint, home=self.home,
                            triples=triples, loaded_files=files)
