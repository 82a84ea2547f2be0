"""``embed_items``: LLM text embeddings on the item nodes (issue 3 item 5; paper §3.1).

Reads items page by page (keyset pagination on ``Item.id``), builds each item's text
(:func:`personarec.embed.text.build_item_text`), and encodes only items whose ``text_hash(text,
model)`` differs from the stored ``Item.embedding_hash`` (or that lack an embedding). Embeddings are
L2-normalised, so the cosine vector index ``item_embedding`` and a dot product agree.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from tqdm.auto import tqdm

from personarec.config import Settings
from personarec.embed.model import EmbedError, encode, load_encoder, model_dimension, use_bf16
from personarec.embed.text import batched, build_item_text, text_hash
from personarec.graph import Graph

log = logging.getLogger(__name__)

READ_PAGE = 2000   # items per read page: small enough for the driver, big enough to batch the encoder
WRITE_BATCH = 500  # embeddings per write transaction (~0.8 MB of floats)


@dataclass
class EmbedSummary:
    """What an embedding run did."""

    model: str
    dimensions: int
    items: int = 0          # items looked at
    encoded: int = 0        # items (re-)encoded and written
    unchanged: int = 0      # skipped: same text and model as stored
    no_text: int = 0        # skipped: nothing to embed (no title, no description, no facts)
    seconds: float = 0.0    # wall time of the whole run
    encode_seconds: float = 0.0  # time spent in the encoder
    datasets: list[str] = field(default_factory=list)

    @property
    def items_per_s(self) -> float:
        """Encoder throughput over the items actually encoded."""
        return self.encoded / self.encode_seconds if self.encode_seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "items_per_s": round(self.items_per_s, 1)}


def index_dimensions(graph: Graph) -> int | None:
    """The dimension of the ``item_embedding`` vector index, or None when the index does not exist."""
    rows = graph.read("queries/embed_index.cypher")
    return int(rows[0]["dimensions"]) if rows and rows[0]["dimensions"] is not None else None


def check_dimensions(model_dim: int, settings: Settings, index_dim: int | None, model_id: str) -> None:
    """One clear error when model, configuration and vector index disagree on the embedding size."""
    if model_dim != settings.embed.dimensions:
        raise EmbedError(f"model {model_id} makes {model_dim}-d embeddings but embed.dimensions is "
                         f"{settings.embed.dimensions}; set PERSONAREC_EMBED__DIMENSIONS={model_dim} and "
                         "recreate the item_embedding index, or choose a matching model.")
    if index_dim is not None and index_dim != model_dim:
        raise EmbedError(f"the item_embedding vector index is {index_dim}-d but model {model_id} makes "
                         f"{model_dim}-d embeddings; drop the index and rerun `personarec db init` with "
                         f"embed.dimensions={model_dim}.")


def embed_items(graph: Graph, settings: Settings, dataset: str | None = None, model: str | None = None,
                force: bool = False, batch_size: int | None = None, device: str | None = None,
                progress: bool = True) -> EmbedSummary:
    """Embed the items of ``dataset`` (all datasets when None) and store them on the item nodes.

    Args:
        graph: the target graph (schema applied: ``personarec db init``).
        settings: ``settings.embed`` gives the default model, dimension and encoder batch size.
        dataset: only items with ``Item.dataset = dataset``.
        model: a model name or local folder; default ``settings.embed.model``.
        force: re-encode every item even when its text hash is unchanged.
        batch_size: encoder batch size; default ``settings.embed.batch_size``.
        device: torch device for the encoder (default CPU).
        progress: show a tqdm progress bar.

    Returns:
        An :class:`EmbedSummary` with counts and timings.
    """
    start = time.perf_counter()
    spec, encoder = load_encoder(model or settings.embed.model, device)
    dim = model_dimension(encoder)
    index_dim = index_dimensions(graph)
    check_dimensions(dim, settings, index_dim, spec.id)
    if index_dim is None:
        log.warning("no item_embedding vector index: run `personarec db init` to make embeddings searchable")
    summary = EmbedSummary(model=spec.id, dimensions=dim)
    encode_bs = batch_size or settings.embed.batch_size
    total = graph.read("queries/embed_count.cypher", {"dataset": dataset})[0]["items"]
    seen_datasets: set[str] = set()
    after = ""
    with tqdm(total=total, unit="item", desc="embed items", disable=not progress) as bar:
        while True:
            # a graph without DBpedia facts or brands is normal: `connect` turns the server's
            # "relationship type does not exist" notifications off
            page = graph.read("queries/embed_items.cypher", {"dataset": dataset, "after": after, "limit": READ_PAGE})
            if not page:
                break
            after = page[-1]["id"]
            todo: list[dict[str, Any]] = []
            for row in page:
                summary.items += 1
                seen_datasets.add(row["id"].split(":", 1)[0])
                text = build_item_text(row)
                if not text:
                    summary.no_text += 1
                    continue
                digest = text_hash(text, spec.id)
                if not force and row["has_embedding"] and row["embedding_hash"] == digest:
                    summary.unchanged += 1
                    continue
                todo.append({"id": row["id"], "text": text, "hash": digest})
            for chunk in batched(todo, WRITE_BATCH):
                t0 = time.perf_counter()
                vectors = encode(encoder, [r["text"] for r in chunk], settings.embed.precision, encode_bs)
                summary.encode_seconds += time.perf_counter() - t0
                rows = [{**r, "embedding": vec.tolist()} for r, vec in zip(chunk, vectors)]
                graph.write_batches("load/embed_items.cypher", rows, batch_size=WRITE_BATCH,
                                    extra={"model": spec.id})
                summary.encoded += len(rows)
                bar.update(len(rows))
            bar.update(len(page) - sum(1 for _ in todo))
    summary.datasets = sorted(seen_datasets)
    summary.seconds = time.perf_counter() - start
    log.info("embedded %d of %d items (%d unchanged, %d without text) with %s (%s) in %.1f s",
             summary.encoded, summary.items, summary.unchanged, summary.no_text, spec.id,
             "bf16" if use_bf16(settings.embed.precision, str(encoder.device)) else "fp32", summary.seconds)
    return summary


def nearest_items(graph: Graph, vector: list[float], k: int = 10) -> list[dict[str, Any]]:
    """The ``k`` items nearest to ``vector`` by the ``item_embedding`` cosine index: ``[{id, title, score}]``."""
    return graph.read("queries/embed_nearest.cypher", {"k": k, "vector": vector})


def embed_texts(texts: list[str], settings: Settings, model: str | None = None,
                device: str | None = None) -> list[list[float]]:
    """Encode free texts with the same model and normalisation as the items (e.g. a search query)."""
    _, encoder = load_encoder(model or settings.embed.model, device)
    return encode(encoder, texts, settings.embed.precision, settings.embed.batch_size).tolist()
