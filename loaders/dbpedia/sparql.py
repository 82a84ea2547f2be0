"""A polite, cached SPARQL client (SPARQLWrapper) for DBpedia and its local mirrors.

* **Cache**: every answer is kept in a sqlite file keyed by ``sha256(endpoint + query)``, so a rerun or a
  resumed run asks the endpoint nothing twice.
* **Politeness**: at least ``min_interval_s`` between two requests to the endpoint.
* **Retries**: transient failures (timeouts, connection errors, HTTP 429/5xx) are retried with
  exponential backoff; a malformed query is not.
* **Errors**: one-sentence :class:`SparqlError` (a :class:`PersonarecError`), e.g. when the endpoint is down.

Values go into query templates only through :func:`sparql_literal` and :func:`sparql_iri`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
from pathlib import Path
from typing import Any

from SPARQLWrapper import JSON, POST, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import (EndPointInternalError, EndPointNotFound, QueryBadFormed,
                                            SPARQLWrapperException, Unauthorized)

from personarec.errors import PersonarecError

log = logging.getLogger(__name__)

USER_AGENT = "personarec/0.1 (persona-driven recommendation research; https://arxiv.org/abs/2604.06928)"
_RETRY_HTTP = {408, 429, 500, 502, 503, 504}
# IRIREF of the SPARQL 1.1 grammar: no spaces, controls or <>"{}|^`\ inside <...>.
_IRI = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*:[^\x00-\x20<>"{}|^`\\]*$')
_ECHAR = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


class SparqlError(PersonarecError):
    """The SPARQL endpoint is unreachable, keeps failing, or rejects a query."""


def sparql_literal(text: str, lang: str | None = None) -> str:
    """``text`` as a SPARQL string literal: quotes, backslashes and control characters escaped (ECHAR)."""
    body = "".join(_ECHAR.get(ch, ch) if ch in _ECHAR or ord(ch) >= 32 else f"\\u{ord(ch):04X}" for ch in text)
    if lang is not None:
        if not re.fullmatch(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*", lang):
            raise ValueError(f"invalid language tag {lang!r}")
        return f'"{body}"@{lang}'
    return f'"{body}"'


def sparql_iri(uri: str) -> str:
    """``<uri>`` after checking that ``uri`` is an absolute IRI with no character that could end it."""
    if not _IRI.match(uri):
        raise ValueError(f"not a valid IRI for a SPARQL query: {uri!r}")
    return f"<{uri}>"


def is_loopback(url: str) -> bool:
    """True for an endpoint on this machine (127.0.0.0/8, ::1, localhost)."""
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    return host == "localhost" or host == "::1" or host.startswith("127.")


class SparqlCache:
    """Answers on disk: sqlite table ``answers(key, endpoint, query, body, created)``; safe across runs."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, endpoint TEXT NOT NULL, "
                         "query TEXT NOT NULL, body TEXT NOT NULL, created REAL NOT NULL)")
        self._db.commit()

    @staticmethod
    def key(endpoint: str, query: str) -> str:
        return hashlib.sha256(f"{endpoint}\n{query}".encode()).hexdigest()

    def get(self, endpoint: str, query: str) -> Any | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM answers WHERE key = ?", (self.key(endpoint, query),)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, endpoint: str, query: str, answer: Any) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)",
                             (self.key(endpoint, query), endpoint, query, json.dumps(answer), time.time()))
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class SparqlClient:
    """SELECT queries against one endpoint, cached, rate-limited and retried.

    Args:
        endpoint: SPARQL endpoint URL (e.g. ``https://dbpedia.org/sparql`` or a local mirror's).
        cache: sqlite file for answers; ``None`` disables caching.
        timeout_s: seconds to wait for one answer.
        retries: retries of a transient failure (so at most ``retries + 1`` requests per query).
        backoff_s: first backoff delay, doubled on every retry.
        min_interval_s: the least time between two requests (politeness towards public endpoints).
        user_agent: sent with every request, so endpoint operators know who asks.
    """

    def __init__(self, endpoint: str, cache: Path | None = None, *, timeout_s: float = 60.0, retries: int = 4,
                 backoff_s: float = 2.0, min_interval_s: float = 1.0, user_agent: str = USER_AGENT) -> None:
        if not re.match(r"^https?://[^\s]+$", endpoint):
            raise SparqlError(f"the SPARQL endpoint must be an http(s) URL, got {endpoint!r}.")
        self.endpoint = endpoint
        self.cache = SparqlCache(cache) if cache is not None else None
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.min_interval_s = min_interval_s
        self.user_agent = user_agent
        self.requests = 0  # requests actually sent (retries included)
        self.cache_hits = 0
        self._last = 0.0

    @classmethod
    def from_settings(cls, settings: Any, endpoint: str | None = None) -> SparqlClient:
        """Build from :class:`personarec.config.Settings` (its ``dbpedia`` section)."""
        cfg = settings.dbpedia
        url = endpoint or cfg.endpoint
        # The pause is courtesy towards shared public endpoints; a mirror on this machine needs none.
        interval = 0.0 if is_loopback(url) else cfg.min_interval_s
        return cls(url, cfg.cache, timeout_s=cfg.timeout_s, retries=cfg.retries, backoff_s=cfg.backoff_s,
                   min_interval_s=interval)

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> SparqlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def select(self, query: str) -> list[dict[str, str]]:
        """Rows of a SELECT query as ``{variable: value}`` (unbound variables left out)."""
        answer = self.select_json(query)
        return [{k: v["value"] for k, v in b.items()} for b in answer.get("results", {}).get("bindings", [])]

    def select_json(self, query: str) -> dict[str, Any]:
        """The SPARQL JSON results of ``query``, from the cache when it was asked before."""
        if self.cache is not None:
            cached = self.cache.get(self.endpoint, query)
            if cached is not None:
                self.cache_hits += 1
                return cached
        answer = self._ask(query)
        if self.cache is not None:
            self.cache.put(self.endpoint, query, answer)
        return answer

    def _pause(self) -> None:
        wait = self._last + self.min_interval_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last = time.monotonic()

    def _ask(self, query: str) -> dict[str, Any]:
        delay = self.backoff_s
        last_error = "no answer"
        for attempt in range(self.retries + 1):
            if attempt:
                log.warning("SPARQL request to %s failed (%s); retry %d/%d in %.1f s", self.endpoint, last_error,
                            attempt, self.retries, delay)
                time.sleep(delay)
                delay *= 2
            self._pause()
            wrapper = SPARQLWrapper(self.endpoint, agent=self.user_agent)
            wrapper.setQuery(query)
            wrapper.setMethod(POST)  # long VALUES blocks would overflow a GET URL
            wrapper.setReturnFormat(JSON)
            wrapper.setTimeout(int(max(1, self.timeout_s)))
            self.requests += 1
            try:
                answer = wrapper.query().convert()
            except QueryBadFormed as exc:
                raise SparqlError(f"the endpoint {self.endpoint} rejected a query as malformed: "
                                  f"{_first_line(exc)}") from exc
            except (EndPointNotFound, Unauthorized) as exc:
                raise SparqlError(f"the SPARQL endpoint {self.endpoint} refused the request "
                                  f"({type(exc).__name__}); check the URL.") from exc
            except EndPointInternalError as exc:
                last_error = f"HTTP 500: {_first_line(exc)}"
                continue
            except urllib.error.HTTPError as exc:
                if exc.code not in _RETRY_HTTP:
                    raise SparqlError(f"the SPARQL endpoint {self.endpoint} answered HTTP {exc.code}.") from exc
                last_error = f"HTTP {exc.code}"
                continue
            except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError) as exc:
                last_error = str(getattr(exc, "reason", exc)) or type(exc).__name__
                continue
            except SPARQLWrapperException as exc:
                last_error = _first_line(exc)
                continue
            if not isinstance(answer, dict):
                last_error = "the answer was not SPARQL JSON"
                continue
            return answer
        raise SparqlError(f"the SPARQL endpoint {self.endpoint} is not answering ({last_error}) after "
                          f"{self.retries + 1} attempts; check it is up or use a local mirror "
                          "(`personarec dbpedia-mirror start`).")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().replace("\\n", "\n")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return (lines[0] if lines else type(exc).__name__)[:300]
