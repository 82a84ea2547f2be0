"""Parquet output of a run: a folder of part files, each written atomically, so a crash never leaves a
half-written file and a resumed run only adds parts for what is missing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from personarec.errors import PersonarecError

META_FILE = "_run.json"


def schema(key: str) -> pa.Schema:
    """One row per recommendation: ``key`` is ``user`` (user node id) or ``session`` (session id)."""
    return pa.schema([("run", pa.string()), (key, pa.string()), ("rank", pa.int32()),
                      ("item", pa.string()), ("score", pa.float64())])


class PartWriter:
    """Writes ``part-NNNNN.parquet`` files into ``path`` and remembers which ids they hold."""

    def __init__(self, path: Path, key: str, meta: dict[str, Any]) -> None:
        self.path = Path(path)
        self.key = key
        if self.path.exists() and not self.path.is_dir():
            raise PersonarecError(f"--parquet {self.path} is a file; give a folder (a Parquet dataset).")
        self.path.mkdir(parents=True, exist_ok=True)
        meta_path = self.path / META_FILE
        if meta_path.exists():
            old = json.loads(meta_path.read_text())
            for field in ("run", "model", "k", "kind"):
                if old.get(field) != meta.get(field):
                    raise PersonarecError(f"{self.path} holds run {old.get('run')!r} ({field}={old.get(field)!r}), "
                                          f"not {meta.get(field)!r}; use another --parquet folder.")
        else:
            _atomic_write(meta_path, json.dumps(meta, indent=2).encode())
        self._next = len(self.parts())

    def parts(self) -> list[Path]:
        return sorted(self.path.glob("part-*.parquet"))

    def done_ids(self) -> set[str]:
        """Ids already in finished part files."""
        done: set[str] = set()
        for part in self.parts():
            done.update(pq.read_table(part, columns=[self.key]).column(self.key).to_pylist())
        return done

    def write(self, run: str, ids: list[str], items: list[list[str]], scores: list[list[float]]) -> int:
        """Write one part; returns the number of rows."""
        cols: dict[str, list[Any]] = {"run": [], self.key: [], "rank": [], "item": [], "score": []}
        for uid, its, scs in zip(ids, items, scores):
            for rank, (item, score) in enumerate(zip(its, scs), start=1):
                cols["run"].append(run)
                cols[self.key].append(uid)
                cols["rank"].append(rank)
                cols["item"].append(item)
                cols["score"].append(float(score))
        table = pa.table(cols, schema=schema(self.key))
        target = self.path / f"part-{self._next:05d}.parquet"
        tmp = target.with_suffix(".parquet.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, target)  # atomic on POSIX: readers see the whole part or none
        self._next += 1
        return table.num_rows

    def finish(self, summary: dict[str, Any]) -> None:
        meta_path = self.path / META_FILE
        meta = json.loads(meta_path.read_text())
        meta.update(summary)
        _atomic_write(meta_path, json.dumps(meta, indent=2, default=str).encode())


def read_run(path: str | Path) -> pa.Table:
    """All parts of a run folder as one table, sorted by id then rank."""
    path = Path(path)
    parts = sorted(path.glob("part-*.parquet"))
    if not parts:
        raise PersonarecError(f"no Parquet parts in {path}.")
    table = pa.concat_tables([pq.read_table(p) for p in parts])
    key = "user" if "user" in table.column_names else "session"
    return table.sort_by([(key, "ascending"), ("rank", "ascending")])


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
