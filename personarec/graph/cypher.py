"""Access to the Cypher scripts of the top-level ``cypher/`` folder.

In a source checkout (and an editable install) they are read from ``cypher/`` beside the package; an
installed wheel carries them as the package data ``personarec/cypher/`` (``pyproject.toml`` maps the
folder there), read through :mod:`importlib.resources`. Every query the package runs lives in a
``.cypher`` file with ``$parameters``; nothing is assembled from user strings. A file may hold several
statements, each ended by ``;`` at the end of a line.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path

from personarec.errors import GraphError

_COMMENT = re.compile(r"^\s*//.*$", re.MULTILINE)


@lru_cache(maxsize=1)
def cypher_dir() -> Path:
    """The folder of the Cypher scripts: the wheel's package data, else ``cypher/`` of the checkout."""
    package = Path(str(resources.files("personarec")))
    for candidate in (package / "cypher", package.parent / "cypher"):
        if (candidate / "schema.cypher").is_file():
            return candidate
    raise GraphError(f"the Cypher scripts are missing: neither {package / 'cypher'} nor "
                     f"{package.parent / 'cypher'} holds schema.cypher; reinstall personarec.")


def split_statements(text: str) -> list[str]:
    """Split a script into statements: ``;`` at a line end separates them; ``//`` comment lines are dropped."""
    body = _COMMENT.sub("", text)
    parts = re.split(r";\s*$", body, flags=re.MULTILINE)
    return [p.strip() for p in parts if p.strip()]


@cache
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
