"""How good are the stored personas? The quality report of ``personarec personas assess``.

For a stored ``PersonaRun`` (default: the latest of the dataset) and the users that hold its personas,
on the **train** split only (``INTERACTED {split: 'train'}``, as :func:`personarec.graph.export.export_graph`
exports it):

* **neighbour overlap at k** — for each user, its ``k`` nearest users by cosine of the vectors; the mean
  Jaccard between the user's set and each neighbour's set, averaged over users. Sets: the train items,
  and the feature / DBpedia nodes those items reach (one measure per node label — ``Genre``,
  ``Category``, ``Brand``, ``Person``, ``Attribute`` — plus ``Entity`` over every DBpedia fact and
  ``Entity/<REL>`` per fact type, e.g. ``Entity/DIRECTED_BY``, where the graph has them). Computed for the
  personas and three references on the same users: the mean item embedding (HDGI's input,
  :func:`personarec.protocol.mean_item_vectors`), seeded random vectors, and ``k`` random users;
* **metapath attention** — the run's ``β`` per metapath and its entropy ``H = -Σ β log β`` (nats, and
  ``H / log P`` for ``P`` metapaths: 1 = uniform, 0 = all weight on one metapath);
* **loss** — first, last and minimum of the stored loss curve, and the number of epochs;
* **cold-start agreement** — for a seeded sample of users, the persona that the cold-start path
  (:class:`personarec.persona.infer.PersonaEncoder`) infers from the user's train items vs the stored
  one: mean / median cosine.

Nearest neighbours are computed in numpy with a chunked matrix product (memory bounded by
``max_bytes``, not by users²). Entry points: :func:`assess` and :func:`write_report`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from personarec.config import Settings
from personarec.errors import PersonarecError
from personarec.graph.connection import Graph
from personarec.graph.cypher import statement
from personarec.graph.export import KGExport, export_graph
from personarec.persona.infer import PersonaEncoder
from personarec.persona.train import PersonaError
from personarec.protocol import mean_item_vectors

log = logging.getLogger(__name__)

#: Neighbour sources, in report order, with their display names.
REFERENCES: dict[str, str] = {"persona": "persona", "mean_embedding": "mean item embedding",
                              "random_vectors": "random vectors", "random_users": "random users"}
ITEMS = "items"


# ------------------------------------------------------------------------------------------ data
@dataclass
class AssessData:
    """The train-split sets the overlap is measured on, for every exported user of a dataset.

    Attributes:
        user_ids: ``User.id`` per row.
        item_ids: ``Item.id`` per column of ``sets["items"]``.
        sets: measure -> binary ``users x nodes`` CSR matrix (``"items"``: train items; ``"Genre"`` …:
            feature nodes of the train items; ``"Entity"``: every DBpedia fact node; ``"Entity/<REL>"``).
        item_vectors: ``Item.embedding`` per item (``None`` when the graph has no embeddings).
    """

    user_ids: list[str]
    item_ids: list[str]
    sets: dict[str, sp.csr_matrix]
    item_vectors: np.ndarray | None

    @property
    def train(self) -> sp.csr_matrix:
        return self.sets[ITEMS]

    def train_items(self, row: int) -> np.ndarray:
        """Column indices of the train items of user ``row``."""
        m = self.train
        return m.indices[m.indptr[row]:m.indptr[row + 1]]


def binary(m: sp.spmatrix) -> sp.csr_matrix:
    """``m`` as a CSR matrix of ones (duplicates merged first, explicit zeros dropped)."""
    out = sp.csr_matrix(m, copy=True)
    out.sum_duplicates()
    out.eliminate_zeros()
    out.data = np.ones_like(out.data, dtype=np.float32)
    return out


def node_sets(export: KGExport) -> dict[str, sp.csr_matrix]:
    """Per measure, the binary ``users x nodes`` matrix of what each user's **train** items reach."""
    n_users, n_items = export.num_nodes("user"), export.num_nodes("item")
    ui = export.data["user", "interacted", "item"].edge_index.numpy()
    train = binary(sp.csr_matrix((np.ones(ui.shape[1], dtype=np.float32), (ui[0], ui[1])), shape=(n_users, n_items)))
    sets: dict[str, sp.csr_matrix] = {ITEMS: train}
    by_label: dict[str, list[sp.csr_matrix]] = {}
    per_rel: dict[str, sp.csr_matrix] = {}
    for et, rel in sorted(export.rels.items()):
        src, _, ntype = et
        if src != "item" or ntype in ("item", "user"):
            continue
        ei = export.data[et].edge_index.numpy()
        item_node = sp.csr_matrix((np.ones(ei.shape[1], dtype=np.float32), (ei[0], ei[1])),
                                  shape=(n_items, export.num_nodes(ntype)))
        reached = binary(train @ item_node)
        label = export.labels.get(ntype, ntype)
        by_label.setdefault(label, []).append(reached)
        if label == "Entity":
            per_rel[f"Entity/{rel}"] = reached
    for label in sorted(by_label, key=lambda lab: (lab == "Entity", lab)):
        parts = by_label[label]
        sets[label] = binary(sum(parts[1:], parts[0]))
    sets.update(sorted(per_rel.items()))
    return sets


def load_data(graph: Graph, dataset: str | None, *, progress: bool = True) -> AssessData:
    """Export the train-split KG of ``dataset`` and build the sets of every user (see :class:`AssessData`)."""
    embedded = graph.read("queries/persona_assess_embedded.cypher", {"dataset": dataset})[0]["embedded"]
    export = export_graph(graph, dataset, item_features="embedding" if embedded else "random", progress=progress)
    vectors = export.data["item"].x.numpy() if embedded else None
    if not embedded:
        log.warning("no Item.embedding in %s: the mean-item-embedding reference is left out", dataset or "the graph")
    return AssessData(list(export.ids["user"]), list(export.ids["item"]), node_sets(export), vectors)


# ------------------------------------------------------------------------------------ neighbours
def top_k_cosine(x: np.ndarray, k: int, *, max_bytes: int = 1 << 26, progress: bool = False) -> np.ndarray:
    """Row ``u``: the ``k`` rows of ``x`` with the highest cosine to row ``u`` (itself excluded), best first.

    The similarity matrix is built ``max_bytes`` at a time (blocks of rows times all rows), so memory
    stays bounded for 100k+ users. Zero rows have cosine 0 with everything.
    """
    x = np.asarray(x, dtype=np.float32)
    n = x.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, {n - 1}] for {n} rows, got {k}")
    xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    chunk = int(max(1, min(n, max_bytes // (4 * n))))
    out = np.empty((n, k), dtype=np.int64)
    for start in tqdm(range(0, n, chunk), desc="nearest users", unit=" block", disable=not progress, leave=False):
        stop = min(n, start + chunk)
        sim = xn[start:stop] @ xn.T
        sim[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sim, top, axis=1), axis=1, kind="stable")
        out[start:stop] = np.take_along_axis(top, order, axis=1)
    return out


def random_neighbours(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Row ``u``: ``k`` distinct users drawn uniformly from the other ``n - 1`` (O(n k), no n² draw)."""
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, {n - 1}] for {n} users, got {k}")
    rows = np.arange(n)[:, None]
    draws = rng.integers(0, n - 1, size=(n, k))
    srt = np.sort(draws, axis=1)
    for u in np.flatnonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1)):  # rare unless n is small
        draws[u] = rng.choice(n - 1, size=k, replace=False)
    return draws + (draws >= rows)  # skip the user itself


def neighbour_jaccard(sets: sp.csr_matrix, neighbours: np.ndarray, *, max_nnz: int = 5_000_000) -> np.ndarray:
    """Per user (row of ``neighbours``), the mean Jaccard between its set and each neighbour's set.

    ``sets`` rows are aligned with the rows of ``neighbours``; an empty union counts 0. Users are taken
    in blocks of about ``max_nnz`` gathered set entries.
    """
    m = binary(sets)
    sizes = np.diff(m.indptr).astype(np.float64)
    n, k = neighbours.shape
    chunk = int(max(1, max_nnz // max(1, k * max(1.0, float(sizes.mean()) if n else 1.0))))
    out = np.empty(n, dtype=np.float64)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        rows = np.repeat(np.arange(start, stop), k)
        cols = neighbours[start:stop].ravel()
        inter = np.asarray(m[rows].multiply(m[cols]).sum(axis=1)).ravel()
        union = sizes[rows] + sizes[cols] - inter
        jac = np.where(union > 0, inter / np.maximum(union, 1.0), 0.0)
        out[start:stop] = jac.reshape(-1, k).mean(axis=1)
    return out


def mean_jaccard(sets: sp.csr_matrix, neighbours: np.ndarray) -> float:
    """Mean over users of :func:`neighbour_jaccard`."""
    return float(neighbour_jaccard(sets, neighbours).mean())


def neighbour_overlap(data: AssessData, rows: np.ndarray, vectors: np.ndarray, k: int, seed: int, *,
                      progress: bool = False) -> dict[str, dict[str, float | None]]:
    """Measure -> reference -> mean Jaccard with the ``k`` nearest users among ``rows``.

    ``vectors[j]`` is the persona of user ``rows[j]`` (row of ``data``); every reference is computed on
    the same users, the random ones seeded with ``seed``. The mean-embedding cell is ``None`` when the
    graph has no item embeddings.
    """
    rows = np.asarray(rows, dtype=np.int64)
    rng = np.random.default_rng(seed)
    neighbours = {"persona": top_k_cosine(vectors, k, progress=progress)}
    if data.item_vectors is not None:
        means = mean_item_vectors([data.train_items(int(u)) for u in rows], data.item_vectors)
        neighbours["mean_embedding"] = top_k_cosine(means, k, progress=progress)
    neighbours["random_vectors"] = top_k_cosine(rng.standard_normal(vectors.shape).astype(np.float32), k,
                                                progress=progress)
    neighbours["random_users"] = random_neighbours(len(rows), k, rng)
    table: dict[str, dict[str, float | None]] = {}
    for measure, sets in data.sets.items():
        sub = sets[rows]
        table[measure] = {ref: (mean_jaccard(sub, neighbours[ref]) if ref in neighbours else None)
                          for ref in REFERENCES}
    return table


# ------------------------------------------------------------------------------ run statistics
def attention_entropy(beta: list[float] | np.ndarray) -> tuple[float, float | None]:
    """``(H, H / log P)`` of the attention ``β`` over ``P`` metapaths, ``H = -Σ β log β`` in nats
    (``0 log 0 = 0``); the normalised value is ``None`` for a single metapath."""
    b = np.asarray(beta, dtype=np.float64)
    nz = b[b > 0]
    h = float(-(nz * np.log(nz)).sum())
    return h, (h / float(np.log(len(b))) if len(b) > 1 else None)


def loss_summary(curve: list[float] | None) -> dict[str, Any]:
    """First, last and minimum loss (with its 0-based epoch), the number of epochs, and the curve itself."""
    c = [float(v) for v in curve or []]
    if not c:
        return {"epochs": 0, "first": None, "last": None, "min": None, "min_epoch": None, "curve": []}
    best = int(np.argmin(c))
    return {"epochs": len(c), "first": c[0], "last": c[-1], "min": c[best], "min_epoch": best, "curve": c}


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    den = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / den if den > 0 else 0.0


def cold_start_agreement(graph: Graph, encoder: PersonaEncoder, items: list[list[str]], personas: np.ndarray,
                         sample: int, seed: int, *, progress: bool = False) -> dict[str, Any]:
    """Cosine between the stored persona and the one the cold-start path infers from the train items.

    ``items[j]`` are the train ``Item.id`` of the user whose stored persona is ``personas[j]``; ``sample``
    users with at least one train item are drawn with ``seed``. ``other_user_mean`` is the scale to read
    the agreement against: the mean cosine between an inferred persona and another sampled user's stored one.
    """
    candidates = np.array([j for j, its in enumerate(items) if its], dtype=np.int64)
    size = min(sample, len(candidates))
    chosen = np.sort(np.random.default_rng(seed).choice(candidates, size=size, replace=False)) if size else candidates
    inferred: list[tuple[int, np.ndarray]] = []
    skipped = 0
    for j in tqdm(chosen, desc="cold start", unit=" user", disable=not progress, leave=False):
        try:
            inferred.append((int(j), encoder.infer(graph, items[int(j)]).astype(np.float64)))
        except PersonaError as exc:  # none of the items has features
            log.debug("cold start skipped a user: %s", exc)
            skipped += 1
    own = np.array([_cosine(vec, personas[j].astype(np.float64)) for j, vec in inferred])
    # the scale to read it against: the same inferred persona vs the stored persona of another sampled user
    other = np.array([_cosine(vec, personas[inferred[(m + 1) % len(inferred)][0]].astype(np.float64))
                      for m, (_, vec) in enumerate(inferred)]) if len(inferred) > 1 else np.zeros(0)
    stats: dict[str, float | None] = {"mean": None, "median": None, "min": None, "p10": None,
                                      "other_user_mean": float(other.mean()) if len(other) else None}
    if len(own):
        stats.update(mean=float(own.mean()), median=float(np.median(own)), min=float(own.min()),
                     p10=float(np.quantile(own, 0.1)))
    return {"users": len(own), "sample": sample, "skipped": skipped, **stats}


# ------------------------------------------------------------------------------------ assessment
@dataclass
class RunAssessment:
    """The report of one ``PersonaRun``; ``overlap``/``cold_start`` are ``None`` with a ``note`` when the
    run's personas are no longer stored (a later run replaced them) or there are too few users."""

    run: dict[str, Any]
    users: int
    k: int
    overlap: dict[str, dict[str, float | None]] | None
    attention: dict[str, Any]
    loss: dict[str, Any]
    cold_start: dict[str, Any] | None
    note: str | None = None


@dataclass
class Assessment:
    """``personarec personas assess``: one :class:`RunAssessment` per run, newest first."""

    dataset: str | None
    k: int
    seed: int
    sample: int
    item_features: str
    runs: list[RunAssessment] = field(default_factory=list)
    generated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _runs(graph: Graph, dataset: str | None, run: str | None) -> list[dict[str, Any]]:
    rows = graph.read("queries/persona_assess_runs.cypher", {"dataset": dataset, "run": None if run == "all" else run})
    where = f" of dataset {dataset!r}" if dataset else ""
    if not rows:
        if run not in (None, "all"):
            raise PersonaError(f"no persona run {run!r}{where}; list the runs with `personarec personas runs`.")
        raise PersonaError(f"no persona run{where}; train personas first with `personarec personas train"
                           f"{' --dataset ' + dataset if dataset else ''}`.")
    if dataset is None:  # the dataset of the latest run; a run on all datasets (null) assesses all users
        rows = [r for r in rows if r["dataset"] == rows[0]["dataset"]]
    return rows if run == "all" else rows[:1]


def _snapshot(graph: Graph, dataset: str | None) -> tuple[list[str], np.ndarray, list[str | None]]:
    """Every stored persona of ``dataset`` with the run that wrote it (read under the gate's read lock)."""
    ids: list[str] = []
    vecs: list[list[float]] = []
    runs: list[str | None] = []
    for row in graph.stream(statement("queries/persona_snapshot.cypher"), {"dataset": dataset}):
        ids.append(row["id"])
        vecs.append(row["persona"])
        runs.append(row["run"])
    dims = {len(v) for v in vecs}
    if len(dims) > 1:
        raise PersonaError(f"stored personas have mixed sizes {sorted(dims)}; train personas again.")
    return ids, (np.asarray(vecs, dtype=np.float32) if vecs else np.zeros((0, 0), np.float32)), runs


def assess(graph: Graph, settings: Settings, dataset: str | None = None, run: str | None = None, *, k: int = 10,
           sample: int = 200, seed: int | None = None, progress: bool = True) -> Assessment:
    """Assess the run ``run`` (``None``: the latest of ``dataset``; ``"all"``: every run of it).

    Args:
        graph: an open graph.
        settings: ``model_store`` locates the encoder for the cold-start check; ``seed`` is the default seed.
        dataset: the dataset (``None``: the dataset of the latest run).
        run: a ``PersonaRun`` id, ``"all"`` or ``None``.
        k: neighbours per user (capped at users - 1).
        sample: users for the cold-start agreement (0: skip it).
        seed: seed of the random references and of the sample (default ``settings.seed``).
        progress: tqdm progress bars.

    Raises:
        PersonaError: no such run / no run of the dataset, or bad ``k`` / ``sample``.
    """
    if k < 1:
        raise PersonaError(f"k must be at least 1, got {k}.")
    if sample < 0:
        raise PersonaError(f"sample must be 0 or more, got {sample}.")
    seed = settings.seed if seed is None else seed
    runs = _runs(graph, dataset, run)
    dataset = runs[0]["dataset"] if dataset is None else dataset
    data = load_data(graph, dataset, progress=progress)
    index = {u: j for j, u in enumerate(data.user_ids)}
    ids, personas, holders = _snapshot(graph, dataset)
    result = Assessment(dataset, k, seed, sample, "embedding" if data.item_vectors is not None else "none")
    for info in runs:
        result.runs.append(_assess_run(graph, settings, data, info, index, ids, personas, holders, k=k,
                                       sample=sample, seed=seed, progress=progress))
    return result


def _assess_run(graph: Graph, settings: Settings, data: AssessData, info: dict[str, Any], index: dict[str, int],
                ids: list[str], personas: np.ndarray, holders: list[str | None], *, k: int, sample: int, seed: int,
                progress: bool) -> RunAssessment:
    h, h_norm = attention_entropy(info["attention"] or [])
    attention = {"metapaths": list(info["metapaths"] or []), "beta": [float(b) for b in info["attention"] or []],
                 "entropy_nats": h, "entropy_normalised": h_norm}
    meta = {key: info.get(key) for key in ("id", "version", "model", "learner", "dataset", "created_at", "model_key",
                                           "users")}
    picked = [j for j, (uid, holder) in enumerate(zip(ids, holders)) if holder == info["id"] and uid in index]
    dropped = sum(1 for uid, holder in zip(ids, holders) if holder == info["id"] and uid not in index)
    if dropped:
        log.warning("run %s: %d users with a persona are not in the exported graph; left out", info["id"], dropped)
    report = RunAssessment(meta, len(picked), min(k, max(len(picked) - 1, 0)), None, attention,
                           loss_summary(info["loss_curve"]), None)
    if not picked:
        report.note = ("no user holds this run's personas any more (a later run replaced them): only the attention "
                       "and the loss are reported.")
        return report
    if len(picked) < 2:
        report.note = "fewer than 2 users hold this run's personas: no neighbours to compare."
        return report
    rows = np.array([index[ids[j]] for j in picked], dtype=np.int64)
    vectors = personas[picked]
    report.overlap = neighbour_overlap(data, rows, vectors, report.k, seed, progress=progress)
    if sample > 0:
        report.cold_start = _cold_start(graph, settings, data, info, rows, vectors, sample, seed, progress)
    return report


def _cold_start(graph: Graph, settings: Settings, data: AssessData, info: dict[str, Any], rows: np.ndarray,
                vectors: np.ndarray, sample: int, seed: int, progress: bool) -> dict[str, Any]:
    if not info.get("model_key"):
        return {"error": f"run {info['id']} names no model in the model store; cold start cannot be checked."}
    try:
        encoder = PersonaEncoder.load(settings.model_store, info["model_key"], info["model_sha256"])
    except PersonarecError as exc:
        log.warning("cold-start check skipped: %s", exc)
        return {"error": str(exc)}
    items = [[data.item_ids[i] for i in data.train_items(int(u))] for u in rows]
    return cold_start_agreement(graph, encoder, items, vectors, sample, seed, progress=progress)


# ---------------------------------------------------------------------------------------- report
def default_out_dir(dataset: str | None) -> Path:
    """``reports/personas/<dataset>/`` (``all`` for a run on every dataset)."""
    return Path("reports") / "personas" / (dataset or "all")


def measure_name(measure: str) -> str:
    """Display name of a measure key: ``items`` -> ``train items``, ``Entity/DIRECTED_BY`` -> ``Entity via …``."""
    if measure == ITEMS:
        return "train items"
    if measure == "Entity":
        return "Entity (all DBpedia facts)"
    if measure.startswith("Entity/"):
        return f"Entity via {measure.split('/', 1)[1]}"
    return measure


def _f(v: Any, spec: str = ".4f") -> str:
    return "–" if v is None else format(v, spec) if isinstance(v, float) else str(v)


def to_markdown(a: Assessment) -> str:
    """The report as Markdown: per run, the overlap table, the attention, the loss and the cold-start check."""
    lines = [f"# Persona assessment: {a.dataset or 'all datasets'}", "",
             f"Generated {a.generated_at}; k = {a.k} nearest users by cosine; train split only; seed {a.seed}; "
             f"cold-start sample {a.sample}.", ""]
    for r in a.runs:
        run = r.run
        lines += [f"## Run {run['id']}", "",
                  f"Learner {run.get('learner') or 'hdgi'} ({run['model']}). "
                  f"Version {run['version']}, created {run['created_at']}, {r.users} users hold its personas "
                  f"(k = {r.k}).", ""]
        if r.note:
            lines += [f"*{r.note}*", ""]
        if r.overlap is not None:
            lines += ["### Neighbour overlap (mean Jaccard with the k nearest users)", "",
                      "| measure | " + " | ".join(REFERENCES.values()) + " |",
                      "|---|" + "---:|" * len(REFERENCES)]
            for measure, row in r.overlap.items():
                lines.append(f"| {measure_name(measure)} | " + " | ".join(_f(row[ref]) for ref in REFERENCES) + " |")
            lines.append("")
        att = r.attention
        lines += ["### Metapath attention", "", "| metapath | β |", "|---|---:|"]
        lines += [f"| {m} | {b:.4f} |" for m, b in zip(att["metapaths"], att["beta"])]
        lines += ["", f"Entropy {_f(att['entropy_nats'])} nats; normalised by log P: "
                  f"{_f(att['entropy_normalised'])} (1 = uniform, 0 = one metapath).", ""]
        loss = r.loss
        lines += ["### Loss", "", "| epochs | first | last | min (epoch) |", "|---:|---:|---:|---:|",
                  f"| {loss['epochs']} | {_f(loss['first'], '.4g')} | {_f(loss['last'], '.4g')} | "
                  f"{_f(loss['min'], '.4g')} ({_f(loss['min_epoch'])}) |", ""]
        if r.cold_start is not None:
            cs = r.cold_start
            lines += ["### Cold-start agreement", ""]
            if "error" in cs:
                lines += [f"Not checked: {cs['error']}", ""]
            else:
                lines += ["Cosine between the stored persona and the persona inferred from the user's train items "
                          "(cold-start path); last column: the inferred persona vs another user's stored one.", "",
                          "| users | mean | median | p10 | min | other user (mean) |",
                          "|---:|---:|---:|---:|---:|---:|",
                          f"| {cs['users']} | {_f(cs['mean'])} | {_f(cs['median'])} | {_f(cs['p10'])} | "
                          f"{_f(cs['min'])} | {_f(cs['other_user_mean'])} |", ""]
    return "\n".join(lines)


def plot(a: Assessment, path: Path) -> Path:
    """``path`` (PNG): per run, the Jaccards of each measure vs the references, and the loss curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(1, len(a.runs))
    fig, axes = plt.subplots(n, 2, figsize=(12, 4.2 * n), squeeze=False, gridspec_kw={"width_ratios": [2, 1]})
    for r, (bars, curve) in zip(a.runs, axes):
        if r.overlap:
            measures = list(r.overlap)
            refs = [ref for ref in REFERENCES if any(r.overlap[m][ref] is not None for m in measures)]
            width = 0.8 / len(refs)
            x = np.arange(len(measures))
            for j, ref in enumerate(refs):
                vals = [r.overlap[m][ref] or 0.0 for m in measures]
                bars.bar(x + j * width, vals, width, label=REFERENCES[ref])
            bars.set_xticks(x + width * (len(refs) - 1) / 2, [measure_name(m) for m in measures], rotation=20,
                            ha="right", fontsize=8)
            bars.set_ylabel(f"mean Jaccard, k = {r.k}")
            bars.legend(fontsize=8)
        else:
            bars.text(0.5, 0.5, r.note or "no overlap", ha="center", va="center", wrap=True, fontsize=9)
            bars.set_axis_off()
        bars.set_title(f"{r.run['id']}: neighbour overlap (train split)", fontsize=10)
        if r.loss["curve"]:
            curve.plot(range(len(r.loss["curve"])), r.loss["curve"], marker=".")
            curve.set_xlabel("epoch")
            curve.set_ylabel(f"{r.run.get('learner') or 'hdgi'} loss")
            if min(r.loss["curve"]) > 0:  # the infomax loss spans orders of magnitude
                curve.set_yscale("log")
        curve.set_title("loss", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(a: Assessment, out_dir: Path) -> dict[str, Path]:
    """Write ``assess.json``, ``assess.md`` and ``assess.png`` into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "assess.json", "md": out_dir / "assess.md", "png": out_dir / "assess.png"}
    paths["json"].write_text(json.dumps(a.to_dict(), indent=2) + "\n")
    paths["md"].write_text(to_markdown(a))
    plot(a, paths["png"])
    log.info("persona assessment written to %s", out_dir)
    return paths
