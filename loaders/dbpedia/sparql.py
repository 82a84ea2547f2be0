"""A polite, cached SPARQL client (SPARQLWrapper) for DBpedia and its local mirrors.

* **Cache**: every answer is kept in a sqlite file keyed by ``sha256(endpoint + query)``, so a rerun or a
  resumed run asks the endpoint nothing twice.
* **Politeness**: at least ``min_interval_s`` between two requests to the endpoint.
* **Retries**: transient failures (timeouts, connection errors, HTTP 429/5xx, an error or malformed
  body) are retried with exponential backoff, or after the ``Retry-After`` the endpoint asks for; a
  malformed query is not. One request, retries included, ends within ``total_timeout_s``.
* **Validation**: only an answer with ``results.bindings`` (or an ASK ``boolean``) is an answer. An
  HTTP 200 carrying ``{"error": …}``, truncated JSON or an HTML page is a failure: never cached and
  never read as "no results" (which would make the enrichment drop every link).
* **Errors**: one-sentence :class:`SparqlError` (a :class:`PersonarecError`), e.g. when the endpoint is down.

Values go into query templates only through :func:`sparql_literal` and :func:`sparql_iri`.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import re
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from SPARQLWrapper import JSON, POST, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import (
    EndPointInternalError,
    EndPointNotFound,
    QueryBadFormed,
    SPARQLWrapperException,
    Unauthorized,
)

from personarec.errors import PersonarecError

log = logging.getLogger(__name__)

USER_AGENT = "personarec/0.1 (persona-driven recommendation research; https://arxiv.org/abs/2604.06928)"
_RETRY_HTTP = {408, 429, 500, 502, 503, 504}
_READ_CHUNK = 1 << 16
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


def answer_problem(answer: Any) -> str | None:
    """Why ``answer`` is not SPARQL JSON results (None when it is): a SELECT needs ``results.bindings``, a
    list of ``{variable: {"value": …}}``; an ASK needs a boolean ``boolean``."""
    if not isinstance(answer, dict):
        return f"the answer is not a JSON object but {type(answer).__name__}"
    if "boolean" in answer:
        return None if isinstance(answer["boolean"], bool) else "the ASK answer's boolean is not true/false"
    results = answer.get("results")
    bindings = results.get("bindings") if isinstance(results, dict) else None
    if not isinstance(bindings, list):
        error = next((answer[k] for k in ("error", "message", "detail") if answer.get(k)), None)
        if error is not None:
            return f"it answered an error instead of results: {_one_line(str(error))}"
        return "no results.bindings in the answer"
    for row in bindings:
        if not isinstance(row, dict) or not all(isinstance(v, dict) and isinstance(v.get("value"), str)
                                                for v in row.values()):
            return "malformed bindings in the answer"
    return None


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay seconds or an HTTP date), None if absent/unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


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
        """The cached answer, or None; an entry that is no valid answer (cached by an older version from an
        endpoint's error body) counts as absent, so the query is asked again."""
        with self._lock:
            row = self._db.execute("SELECT body FROM answers WHERE key = ?", (self.key(endpoint, query),)).fetchone()
        if not row:
            return None
        try:
            answer = json.loads(row[0])
        except ValueError:
            return None
        return answer if answer_problem(answer) is None else None

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
        total_timeout_s: the most seconds one query may take, retries and waits included.
        clock, sleep: monotonic clock and sleep (injectable, so tests can see the waits).
    """

    def __init__(self, endpoint: str, cache: Path | None = None, *, timeout_s: float = 60.0, retries: int = 4,
                 backoff_s: float = 2.0, min_interval_s: float = 1.0, user_agent: str = USER_AGENT,
                 total_timeout_s: float = 180.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not re.match(r"^https?://[^\s]+$", endpoint):
            raise SparqlError(f"the SPARQL endpoint must be an http(s) URL, got {endpoint!r}.")
        self.endpoint = endpoint
        self.cache = SparqlCache(cache) if cache is not None else None
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.min_interval_s = min_interval_s
        self.user_agent = user_agent
        self.total_timeout_s = total_timeout_s
        self._clock = clock
        self._sleep = sleep
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
                   min_interval_s=interval, total_timeout_s=cfg.total_timeout_s)

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
        wait = self._last + self.min_interval_s - self._clock()
        if wait > 0:
            self._sleep(wait)
        self._last = self._clock()

    def _ask(self, query: str) -> dict[str, Any]:
        """One query: retried while it fails transiently, within ``total_timeout_s``; a valid answer or
        :class:`SparqlError`."""
        deadline = self._clock() + self.total_timeout_s
        delay = self.backoff_s
        last_error = "no answer"
        wait: float | None = None  # what the endpoint asked for (Retry-After) before the next attempt
        for attempt in range(self.retries + 1):
            if attempt:
                pause = delay if wait is None else wait
                left = deadline - self._clock()
                if wait is not None and wait > left:
                    raise SparqlError(f"the SPARQL endpoint {self.endpoint} is overloaded ({last_error}) and asked "
                                      f"to wait {wait:.0f} s, more than the {max(left, 0):.0f} s left of the "
                                      f"{self.total_timeout_s:g} s budget of one request (dbpedia.total_timeout_s); "
                                      "try later or use a local mirror (`personarec dbpedia-mirror start`).")
                if pause >= left:
                    break
                log.warning("SPARQL request to %s failed (%s); retry %d/%d in %.1f s", self.endpoint, last_error,
                            attempt, self.retries, pause)
                self._sleep(pause)
                delay *= 2
            wait = None
            self._pause()
            left = deadline - self._clock()
            if left <= 0:
                break
            self.requests += 1
            try:
                return self._request(query, min(self.timeout_s, left), deadline)
            except QueryBadFormed as exc:
                raise SparqlError(f"the endpoint {self.endpoint} rejected a query as malformed: "
                                  f"{_first_line(exc)}") from exc
            except (EndPointNotFound, Unauthorized) as exc:
                raise SparqlError(f"the SPARQL endpoint {self.endpoint} refused the request "
                                  f"({type(exc).__name__}); check the URL.") from exc
            except EndPointInternalError as exc:
                last_error = f"HTTP 500: {_first_line(exc)}"
            except urllib.error.HTTPError as exc:
                if exc.code not in _RETRY_HTTP:
                    raise SparqlError(f"the SPARQL endpoint {self.endpoint} answered HTTP {exc.code}.") from exc
                last_error = f"HTTP {exc.code}"
                wait = retry_after_s(exc.headers.get("Retry-After") if exc.headers else None)
            except _BadAnswer as exc:
                last_error = str(exc)
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError, http.client.HTTPException) as exc:
                last_error = _one_line(str(getattr(exc, "reason", exc)) or type(exc).__name__)
            except SPARQLWrapperException as exc:
                last_error = _first_line(exc)
        else:
            raise SparqlError(f"the SPARQL endpoint {self.endpoint} is not answering ({last_error}) after "
                              f"{self.retries + 1} attempts; check it is up or use a local mirror "
                              "(`personarec dbpedia-mirror start`).")
        raise SparqlError(f"the SPARQL endpoint {self.endpoint} is not answering ({last_error}) within the "
                          f"{self.total_timeout_s:g} s budget of one request (dbpedia.total_timeout_s); check it is "
                          "up or use a local mirror (`personarec dbpedia-mirror start`).")

    def _request(self, query: str, timeout_s: float, deadline: float) -> dict[str, Any]:
        """Send ``query`` once and read the whole answer before ``deadline``; :class:`_BadAnswer` when the
        body is not valid SPARQL JSON results."""
        wrapper = SPARQLWrapper(self.endpoint, agent=self.user_agent)
        wrapper.setQuery(query)
        wrapper.setMethod(POST)  # long VALUES blocks would overflow a GET URL
        wrapper.setReturnFormat(JSON)
        # urllib's timeout bounds every socket wait (connect, each read); the deadline bounds the sum
        wrapper.setTimeout(max(0.05, timeout_s))  # type: ignore[arg-type]
        response = wrapper.query().response
        try:
            content_type = response.headers.get("Content-Type", "") if response.headers else ""
            chunks: list[bytes] = []
            while chunk := response.read(_READ_CHUNK):
                chunks.append(chunk)
                if self._clock() > deadline:  # an endpoint that trickles its answer byte by byte
                    raise TimeoutError("the answer kept trickling in past the time budget")
        finally:
            response.close()
        body = b"".join(chunks)
        try:
            answer = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise _BadAnswer(f"the answer is not JSON ({content_type or 'no content type'})") from None
        except RecursionError:
            raise _BadAnswer("malformed JSON: nested too deeply") from None
        except ValueError as exc:
            if body.lstrip()[:1] in (b"{", b"["):
                raise _BadAnswer(f"truncated or malformed JSON: {getattr(exc, 'msg', exc)} at character "
                                 f"{getattr(exc, 'pos', '?')} of a {len(body)}-byte answer") from None
            raise _BadAnswer(f"the answer is not JSON ({content_type or 'no content type'}: "
                             f"{_one_line(body[:80].decode('utf-8', 'replace'))})") from None
        problem = answer_problem(answer)
        if problem is not None:
            raise _BadAnswer(problem)
        return answer


class _BadAnswer(Exception):
    """An HTTP 200 whose body is not SPARQL JSON results (an error object, truncated JSON, an HTML page)."""


def _one_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().replace("\\n", "\n")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return (lines[0] if lines else type(exc).__name__)[:300]
