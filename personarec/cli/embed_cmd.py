"""``personarec embed items|search``: LLM item embeddings on the item nodes."""

from __future__ import annotations

import json

import click

from personarec.cli.common import AppContext, pass_app, print_rows


@click.group()
def embed() -> None:
    """LLM text embeddings of items (sentence-transformers, stored as Item.embedding)."""


@embed.command("items")
@click.option("--dataset", default=None, help="Only this dataset's items (default: every dataset).")
@click.option("--model", default=None, metavar="NAME_OR_PATH",
              help="sentence-transformers model name or local folder (default: embed.model, the bundled "
                   "all-MiniLM-L6-v2).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Encoder batch size.")
@click.option("--force", is_flag=True, help="Re-encode every item, even when its text is unchanged.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def items(app: AppContext, dataset: str | None, model: str | None, batch_size: int | None, force: bool,
          as_json: bool) -> None:
    """Embed item texts (title, year, genres, categories, description/abstract, DBpedia facts).

    Items whose text and model are unchanged since the last run are skipped (cached by text hash).
    """
    from personarec.embed import embed_items

    settings = app.apply_flags({"embed.model": ("--model", model), "embed.batch_size": ("--batch-size", batch_size)})
    dataset = app.check_dataset(dataset)
    summary = embed_items(app.graph(write=True), settings, dataset=dataset, force=force)
    if as_json:
        click.echo(json.dumps(summary.as_dict()))
        return
    click.echo(f"{summary.items} items: {summary.encoded} encoded, {summary.unchanged} unchanged, "
               f"{summary.no_text} without text; model {summary.model} ({summary.dimensions}-d); "
               f"{summary.seconds:.1f} s ({summary.items_per_s:.0f} items/s encoding)")


@embed.command("search")
@click.argument("text")
@click.option("-k", type=click.IntRange(min=1), default=10, show_default=True, help="How many items.")
@click.option("--model", default=None, metavar="NAME_OR_PATH", help="Same model the items were embedded with.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
@pass_app
def search(app: AppContext, text: str, k: int, model: str | None, as_json: bool) -> None:
    """The items nearest to TEXT by the item_embedding vector index."""
    from personarec.embed import embed_texts, nearest_items

    settings = app.apply_flags({"embed.model": ("--model", model)})
    vector = embed_texts([text], settings)[0]
    print_rows(nearest_items(app.graph(), vector, k), as_json)


@embed.command("graph")
@click.option("--dataset", default=None, help="Dataset name (default: the only dataset in the graph).")
@click.option("--replace-text", is_flag=True,
              help="Also overwrite items that have a text (LLM) embedding; by default only items without "
                   "one (or with an earlier structural one) are written.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def graph_vectors(app: AppContext, dataset: str | None, replace_text: bool, as_json: bool) -> None:
    """Item vectors from the KG structure, for catalogues without item text (e.g. S3-Rec Beauty).

    Latent semantic analysis of items × (train users, feature and DBpedia nodes, linked items), stored
    as Item.embedding with embedding_model 'kg-svd'. Held-out interactions are never used.
    """
    from personarec.db import resolve_dataset
    from personarec.embed.structural import embed_items_structural

    dataset = app.check_dataset(dataset)
    graph = app.graph(write=True)
    summary = embed_items_structural(graph, app.settings, resolve_dataset(graph, dataset),
                                     replace_text=replace_text)
    if as_json:
        click.echo(json.dumps(summary.as_dict()))
        return
    click.echo(f"{summary.dataset}: {summary.written} of {summary.items} items written ({summary.kept} kept their "
               f"text embedding); {summary.contexts} contexts, rank {summary.rank} of {summary.dimensions}; "
               f"{summary.seconds:.1f} s")
