"""Our exact splits as RecBole atomic files (RecBole 1.2.x, https://recbole.io/docs/user_guide/data/atomic_files.html).

Written into ``OUT/<name>/`` (RecBole reads ``data_path/dataset/dataset.*``):

* ``<name>.inter`` — every interaction: ``user_id:token item_id:token rating:float timestamp:float``, rows
  in each user's ``seq`` order. RecBole's sort by time is stable, so equal times keep this order and its
  own leave-one-out (``eval_args.split.LS``, ``order: TO``) reproduces our split for general models.
* ``<name>.train.inter`` / ``.valid.inter`` / ``.test.inter`` — the split itself, pre-augmented for
  sequential models (``benchmark_filename: [train, valid, test]``): one row per target with the items
  before it, ``user_id:token item_id_list:token_seq item_id:token``. Train rows predict every train item
  after the first; valid predicts the valid item from the train items, test the test item from train +
  valid. Lists keep the most recent ``max_len`` items (RecBole would cut the newest ones).
* ``<name>.item`` — ``item_id:token title:token_seq year:token features:token_seq``.
* ``<name>.kg`` — ``head_id:token relation_id:token tail_id:token``: the item–feature, DBpedia and
  metadata links of the graph; the head is the item's entity (its node id).
* ``<name>.link`` — ``item_id:token entity_id:token``, item to its entity in ``.kg``.
* ``<name>.yaml`` — a RecBole config that uses exactly this split.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from personarec.errors import PersonarecError
from personarec.graph import Graph

# split_fingerprint is the protocol's one definition, re-exported for personarec.export's callers
from personarec.protocol import raw_sort_key, split_fingerprint

log = logging.getLogger(__name__)

KG_RELATIONS = ("HAS_GENRE", "IN_CATEGORY", "BY_BRAND", "BY_AUTHOR", "HAS_ATTRIBUTE", "SAME_AS", "DIRECTED_BY",
                "STARRING", "WRITTEN_BY", "PRODUCED_BY", "AUTHORED_BY", "PUBLISHED_BY", "IN_SERIES", "HAS_SUBJECT",
                "DBPEDIA_GENRE", "DISTRIBUTED_BY", "CINEMATOGRAPHY_BY", "ALSO_BOUGHT", "ALSO_VIEWED",
                "BOUGHT_TOGETHER")
# shared vocabularies get a label prefix so a genre and a category of the same name stay two entities
_PREFIXED = {"Category", "Brand", "Person", "Genre"}
_WS = re.compile(r"\s+")


class ExportError(PersonarecError):
    """An export cannot be written."""


@dataclass
class ExportSummary:
    """What :func:`export_recbole` wrote."""

    dataset: str
    name: str
    folder: str
    users: int
    items: int
    interactions: int
    split_counts: dict[str, int]
    kg_triples: int
    linked_items: int
    fingerprint: str
    graph_fingerprint: str | None  # the Dataset node's, when the loader stored one
    files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _token(value: Any) -> str:
    """A RecBole token: no tabs or newlines (the field separator)."""
    return _WS.sub(" ", str(value)).strip() if value is not None else ""


def _token_seq(words: Iterable[Any]) -> str:
    """A RecBole token sequence: space separated, so spaces inside a word become underscores."""
    return " ".join(_WS.sub("_", str(w).strip()) for w in words if w is not None and str(w).strip())


def _write(path: Path, header: list[str], rows: Iterable[list[Any]]) -> int:
    n = 0
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write("\t".join(header) + "\n")
        for row in rows:
            fh.write("\t".join("" if v is None else str(v) for v in row) + "\n")
            n += 1
    tmp.replace(path)
    return n


def _num(value: Any) -> str:
    if value is None:
        return ""
    f = float(value)
    return str(int(f)) if f.is_integer() else repr(f)


def export_recbole(graph: Graph, out: str | Path, dataset: str | None = None, *, name: str | None = None,
                   max_len: int = 50, progress: bool = True) -> ExportSummary:
    """Write ``dataset``'s interactions, split, items and KG as RecBole atomic files under ``out/<name>/``.

    ``name`` defaults to the dataset name (RecBole's ``dataset`` setting). Errors if the stored split
    is not per-user contiguous (train, then valid, then test in ``seq`` order), which every split the
    loaders make is.
    """
    from personarec.db import resolve_dataset

    if max_len <= 0:
        raise ExportError(f"max_len must be positive, got {max_len}.")
    dataset = resolve_dataset(graph, dataset)
    name = name or dataset
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ExportError(f"RecBole dataset name {name!r} must be letters, digits, '.', '_' or '-'.")
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)

    histories: dict[str, list[dict[str, Any]]] = {}
    rows = graph.stream(_stmt("queries/recbole_interactions.cypher"), {"dataset": dataset})
    for rec in tqdm(rows, desc="read interactions", unit="row", disable=not progress):
        histories.setdefault(rec["user"], []).append(dict(rec))
    if not histories:
        raise ExportError(f"dataset {dataset!r} has no interactions to export.")
    users = sorted(histories, key=raw_sort_key)
    order = {"train": 0, "valid": 1, "test": 2}
    held_out: dict[str, tuple[list[str], list[str]]] = {}
    counts = {"train": 0, "valid": 0, "test": 0}
    for user in users:
        hist = histories[user]
        hist.sort(key=lambda r: r["seq"])
        ranks = [order.get(r["split"], -1) for r in hist]
        if -1 in ranks or ranks != sorted(ranks):
            raise ExportError(f"user {user} of {dataset} has a split that is not train, then valid, then test "
                              "in seq order; RecBole's sequential benchmark files cannot express it.")
        held_out[user] = ([r["item"] for r in hist if r["split"] == "valid"],
                          [r["item"] for r in hist if r["split"] == "test"])
        for r in hist:
            counts[r["split"]] += 1

    files: list[str] = []
    p = folder / f"{name}.inter"
    n_inter = _write(p, ["user_id:token", "item_id:token", "rating:float", "timestamp:float"],
                     ([u, r["item"], _num(r["rating"]), _num(r["ts"])] for u in users for r in histories[u]))
    files.append(p.name)

    header = ["user_id:token", "item_id_list:token_seq", "item_id:token"]
    train_rows: list[list[Any]] = []
    valid_rows: list[list[Any]] = []
    test_rows: list[list[Any]] = []
    for user in users:
        items = [r["item"] for r in histories[user]]
        splits = [r["split"] for r in histories[user]]
        for pos in range(1, len(items)):
            target = {"train": train_rows, "valid": valid_rows, "test": test_rows}[splits[pos]]
            target.append([user, " ".join(items[max(0, pos - max_len):pos]), items[pos]])
    for suffix, part in (("train", train_rows), ("valid", valid_rows), ("test", test_rows)):
        p = folder / f"{name}.{suffix}.inter"
        _write(p, header, part)
        files.append(p.name)

    item_rows = graph.read("queries/recbole_items.cypher", {"dataset": dataset})
    p = folder / f"{name}.item"
    _write(p, ["item_id:token", "title:token_seq", "year:token", "features:token_seq"],
           ([r["item"], _token_seq(_token(r["title"]).split()), _token(r["year"]), _token_seq(sorted(r["features"]))]
            for r in item_rows))
    files.append(p.name)

    kg = graph.read("queries/recbole_kg.cypher", {"dataset": dataset, "relations": list(KG_RELATIONS)})
    heads: set[str] = set()
    kg_rows = []
    for r in kg:
        tail = f"{r['label']}:{r['tail']}" if r["label"] in _PREFIXED else r["tail"]
        kg_rows.append([_token(r["head"]), r["relation"], _token(tail)])
        heads.add(r["head"])
    p = folder / f"{name}.kg"
    n_kg = _write(p, ["head_id:token", "relation_id:token", "tail_id:token"], kg_rows)
    files.append(p.name)
    raw_of = {r["node"]: r["item"] for r in item_rows}
    p = folder / f"{name}.link"
    n_link = _write(p, ["item_id:token", "entity_id:token"],
                    ([raw_of[h], _token(h)] for h in sorted(heads) if h in raw_of))
    files.append(p.name)

    p = folder / f"{name}.yaml"
    p.write_text(_recbole_yaml(name, max_len))
    files.append(p.name)

    fp = split_fingerprint(held_out)
    ds = graph.read("queries/recbole_dataset.cypher", {"dataset": dataset})
    graph_fp = ds[0]["dataset"].get("fingerprint") if ds else None
    if graph_fp and graph_fp != fp:
        raise ExportError(f"the exported split's fingerprint {fp} differs from the one stored on Dataset "
                          f"{dataset} ({graph_fp}); the graph changed since it was loaded.")
    summary = ExportSummary(dataset=dataset, name=name, folder=str(folder), users=len(users),
                            items=len(item_rows), interactions=n_inter, split_counts=counts, kg_triples=n_kg,
                            linked_items=n_link, fingerprint=fp, graph_fingerprint=graph_fp, files=files)
    (folder / "export.json").write_text(json.dumps(summary.as_dict(), indent=2))
    log.info("exported %s to %s: %d users, %d items, %d interactions, %d KG triples, fingerprint %s",
             dataset, folder, summary.users, summary.items, n_inter, n_kg, fp)
    return summary


def _stmt(name: str) -> str:
    from personarec.graph.cypher import statement

    return statement(name)


def _recbole_yaml(name: str, max_len: int) -> str:
    return f"""# RecBole 1.2.x config for the files beside it: exactly personarec's split.
# Sequential models (SASRec, GRU4Rec, ...): the pre-split benchmark files.
#   run_recbole(model='SASRec', dataset='{name}', config_file_list=['{name}.yaml'],
#               config_dict={{'data_path': '<folder above this one>'}})
# General models (BPR, LightGCN, ...): drop benchmark_filename and the *_LIST fields and use
#   eval_args: {{split: {{LS: valid_and_test}}, order: TO, group_by: user, mode: full}} on {name}.inter
#   (rows are in our seq order and RecBole's time sort is stable, so ties keep it).
# Knowledge-aware models (KGAT, RippleNet, ...) also read {name}.kg and {name}.link.
USER_ID_FIELD: user_id
ITEM_ID_FIELD: item_id
TIME_FIELD: timestamp
MAX_ITEM_LIST_LENGTH: {max_len}
benchmark_filename: [train, valid, test]
load_col:
  inter: [user_id, item_id_list, item_id]
eval_args:
  order: TO
  mode: full
# RecBole's sequential full-sort evaluation does not mask a user's earlier items; our protocol does
# (personarec's docs/protocol.md), so score its checkpoints with history masked when comparing numbers.
metrics: [Hit, NDCG, MRR]
topk: [10, 100]
valid_metric: NDCG@10
"""


def read_atomic(path: str | Path) -> list[dict[str, Any]]:
    """Read a RecBole atomic file: ``float`` fields as floats, ``token_seq`` as lists, tokens as text."""
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        fields = [h.split(":", 1) for h in header]
        out = []
        for line in fh:
            values = line.rstrip("\n").split("\t")
            row: dict[str, Any] = {}
            for (fname, ftype), v in zip(fields, values):
                if ftype == "float":
                    row[fname] = float(v) if v else None
                elif ftype.endswith("_seq"):
                    row[fname] = v.split(" ") if v else []
                else:
                    row[fname] = v
            out.append(row)
    return out


def read_benchmark_split(folder: str | Path, name: str) -> dict[str, tuple[list[str], list[str]]]:
    """``{user: ([valid items], [test items])}`` from the ``.valid.inter`` / ``.test.inter`` files."""
    folder = Path(folder)
    held: dict[str, tuple[list[str], list[str]]] = {}
    for idx, suffix in ((0, "valid"), (1, "test")):
        for row in read_atomic(folder / f"{name}.{suffix}.inter"):
            held.setdefault(row["user_id"], ([], []))[idx].append(row["item_id"])
    return held
