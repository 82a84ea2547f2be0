"""Access to the Cypher scripts in the repository's ``cypher/`` folder.

Every query the package runs lives in a ``.cypher`` file with ``$parameters``; nothing is assembled
from user strings. A file may hold several statements, each ended by ``;`` at the end of a line.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from personarec.errors import GraphError

_COMMENT = re.compile(r"^\s*//.*$", re.MULTILINE)


def cypher_dir() -> Path:
    """The ``cypher/`` folder (override with ``PERSONAREC_CYPHER_DIR``)."""
    override = os.environ.get("PERSONAREC_CYPHER_DIR")
    if override:
        return Path(override)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "cypher" / "schema.cypher").exists():
            return parent / "cypher"
    raise GraphError("cannot find the cypher/ folder; run from a personarec checkout or set PERSONAREC_CYPHER_DIR.")


def split_statements(text: str) -> list[str]:
    """Split a script into statements: ``;`` at a line end separates them; ``//`` comment lines are dropped."""
    body = _COMMENT.sub("", text)
    parts = re.split(r";\s*$", body, flags=re.MULTILINE)
    return [p.strip() for p in parts if p.strip()]


@lru_cache(maxsize=None)
def statements(name: str) -> tuple[str, ...]:
    """The statements of ``cypher/<name>`` (``name`` like ``"schema.cypher"`` or ``"load/items.cypher"``)."""
    path = cypher_dir() / name
    if not path.is_file():
        raise GraphError(f"Cypher script {name} not found in {cypher_dir()}.")
    return tuple(split_statements(path.read_text()))


def statement(name: str) -> str:
    """The single statement of ``cypher/<name>``; error if the file holds more than one."""
    stmts = statements(name)
    if len(stmts) != 1:
        raise GraphError(f"Cypher script {name} must hold exactly one statement, it holds {len(stmts)}.")
    return stmts[0]
