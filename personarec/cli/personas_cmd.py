"""``personarec personas train|show|similar|neighbourhood|explain|infer|runs|assess``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from personarec.cli.common import AppContext, pass_app, print_rows

_DATASET = click.option("--dataset", "-d", default=None,
                        help="Dataset name; lets you give raw ids (42 instead of ml-100k:42).")


def _key(raw: str, dataset: str | None) -> str:
    from personarec.persona.explore import user_key

    return user_key(raw, dataset)


@click.group()
def personas() -> None:
    """User personas learned on the knowledge graph (HDGI, HDGI-struct or HeCo; stored as User.persona)."""


@personas.command()
@_DATASET
@click.option("--epochs", type=int, default=None, help="Maximum epochs (default: persona.epochs).")
@click.option("--metapath", "metapaths", multiple=True,
              help="Metapath, repeatable (e.g. U-I-U, U-I-Genre-I-U, U-I-Entity-I-U); default: persona.metapaths.")
@click.option("--seed", type=int, default=None, help="Training seed (default: persona.seed or the global seed).")
@click.option("--learner", default=None, help="Persona learner: hdgi, hdgi-struct or heco (default: persona.learner).")
@click.option("--no-write", is_flag=True, help="Train and save the model, but do not write personas to Neo4j.")
@click.option("--nproc", type=int, default=None, help="Training processes on this machine, data-parallel "
              "(torch.distributed, gloo; default: persona.nproc). Under torchrun the launcher decides.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@pass_app
def train(app: AppContext, dataset: str | None, epochs: int | None, metapaths: tuple[str, ...], seed: int | None,
          learner: str | None, no_write: bool, nproc: int | None, as_json: bool) -> None:
    """Export the train-split KG, learn personas (persona.learner) and write them back in one transaction."""
    # Flags first: a rejected value must not cost a training run nor touch the stored personas.
    settings = app.apply_flags({"persona.epochs": ("--epochs", epochs),
                                "persona.metapaths": ("--metapath", list(metapaths) or None),
                                "persona.seed": ("--seed", seed),
                                "persona.learner": ("--learner", learner),
                                "persona.nproc": ("--nproc", nproc)})
    dataset = app.check_dataset(dataset)
    from personarec.config import torchrun_env

    launched = torchrun_env()
    if launched is not None and launched.world_size == 1:
        launched = None  # torchrun with one process: train here as usual
    if launched is not None or settings.persona.nproc > 1:
        from personarec.persona.distributed import train_personas_distributed

        maybe = train_personas_distributed(app.graph(write=not no_write), settings, dataset, write=not no_write,
                                           launched=launched,
                                           echo=None if as_json else click.echo)
        if maybe is None:  # a torchrun rank other than 0: rank 0 reports
            return
        summary = maybe
    else:
        from personarec.persona import train_personas

        summary = train_personas(app.graph(write=not no_write), settings, dataset, write=not no_write,
                                 echo=None if as_json else click.echo)
    if as_json:
        click.echo(json.dumps(summary.to_dict()))
        return
    click.echo(f"run {summary.run_id} ({summary.learner}): {summary.users} personas of "
               f"{settings.persona.dimensions} dims, "
               f"version {summary.version}, best loss {summary.best_loss:.4f} (epoch {summary.best_epoch} of "
               f"{summary.epochs})")
    click.echo("metapath attention: " + ", ".join(f"{m} {a:.3f}" for m, a in zip(summary.metapaths,
                                                                                 summary.attention, strict=True)))
    click.echo(f"model saved as {summary.model_key} in the model store {settings.model_store}")


@personas.command()
@click.argument("user")
@_DATASET
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
@pass_app
def show(app: AppContext, user: str, dataset: str | None, as_json: bool) -> None:
    """A user's persona: run, version, size, and the metapath attention of its run."""
    from personarec.persona.explore import show_persona

    print_rows([show_persona(app.graph(), _key(user, dataset)).as_dict()], as_json)


@personas.command()
@click.argument("user")
@_DATASET
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="How many neighbours.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
@pass_app
def similar(app: AppContext, user: str, dataset: str | None, k: int, as_json: bool) -> None:
    """Users with the most similar personas (vector index user_persona, cosine)."""
    from personarec.persona.explore import similar_users

    print_rows([r.as_dict() for r in similar_users(app.graph(), _key(user, dataset), k)], as_json)


@personas.command()
@click.argument("user")
@_DATASET
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True,
              help="Persona neighbours to look at.")
@click.option("--limit", type=click.IntRange(min=1), default=15, show_default=True, help="Rows per table.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of tables.")
@pass_app
def neighbourhood(app: AppContext, user: str, dataset: str | None, k: int, limit: int, as_json: bool) -> None:
    """Items and categories/genres/DBpedia entities that dominate a persona's neighbourhood."""
    from personarec.persona.explore import neighbourhood as explore_neighbourhood

    hood = explore_neighbourhood(app.graph(), _key(user, dataset), k, limit)
    print_rows([r.as_dict() for r in hood.items], as_json)
    print_rows([r.as_dict() for r in hood.features], as_json)


@personas.command()
@click.argument("user_a")
@click.argument("user_b")
@_DATASET
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
@pass_app
def explain(app: AppContext, user_a: str, user_b: str, dataset: str | None, limit: int, as_json: bool) -> None:
    """What two users share along each metapath: why their personas are close."""
    from personarec.persona.explore import explain_pair

    rows = explain_pair(app.graph(), _key(user_a, dataset), _key(user_b, dataset), limit)
    print_rows([r.as_dict() for r in rows], as_json)


@personas.command()
@click.option("--items", required=True, help="Comma-separated item ids of the session (Item.id, or raw ids "
              "with --dataset).")
@_DATASET
@click.option("--run", default=None, help="PersonaRun id (default: the latest run of the dataset).")
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="Similar users to list.")
@click.option("--json", "as_json", is_flag=True, help="Print the persona and neighbours as JSON.")
@pass_app
def infer(app: AppContext, items: str, dataset: str | None, run: str | None, k: int, as_json: bool) -> None:
    """Infer a persona for an anonymous session from its items (cold start), with the trained encoder."""
    from personarec.persona import infer_persona
    from personarec.persona.explore import similar_to_vector

    ids = [_key(i.strip(), dataset) for i in items.split(",") if i.strip()]
    if not ids:
        raise click.BadParameter("give at least one item id", param_hint="--items")
    vec = infer_persona(app.graph(), app.settings, ids, dataset=dataset, run=run)
    near = [r.as_dict() for r in similar_to_vector(app.graph(), vec.tolist(), k, dataset)]
    if as_json:
        click.echo(json.dumps({"items": ids, "persona": vec.tolist(), "similar": near}))
        return
    click.echo(f"persona of a {len(ids)}-item session: {vec.shape[0]} dims, norm {float((vec ** 2).sum()) ** 0.5:.3f}")
    click.echo("users with the closest personas:")
    print_rows(near)


@personas.command()
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
@pass_app
def runs(app: AppContext, limit: int, as_json: bool) -> None:
    """Persona runs, newest first."""
    from personarec.persona.explore import persona_runs

    print_rows(persona_runs(app.graph(), limit), as_json)


@personas.command()
@_DATASET
@click.option("--run", default=None, help="PersonaRun id, or 'all' for every run of the dataset "
              "(default: the latest run).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Report folder (default: reports/personas/<dataset>/).")
@click.option("-k", "--k", "k", type=click.IntRange(min=1), default=10, show_default=True,
              help="Nearest users per user.")
@click.option("--sample", type=click.IntRange(min=0), default=200, show_default=True,
              help="Users for the cold-start agreement (0: skip it).")
@click.option("--seed", type=int, default=None, help="Seed of the random references and the sample "
              "(default: the global seed).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_app
def assess(app: AppContext, dataset: str | None, run: str | None, out_dir: Path | None, k: int, sample: int,
           seed: int | None, as_json: bool) -> None:
    """Persona quality report: neighbour overlap vs references, attention entropy, loss, cold-start agreement."""
    dataset = app.check_dataset(dataset)
    from personarec.persona.assess import REFERENCES, default_out_dir, write_report
    from personarec.persona.assess import assess as run_assess

    report = run_assess(app.graph(), app.settings, dataset, run, k=k, sample=sample, seed=seed,
                        progress=not as_json)
    paths = write_report(report, out_dir or default_out_dir(report.dataset))
    if as_json:
        click.echo(json.dumps(report.to_dict()))
        return
    for r in report.runs:
        click.echo(f"run {r.run['id']}: {r.users} users, k = {r.k}")
        if r.note:
            click.echo(f"  {r.note}")
        if r.overlap is not None:
            items = r.overlap["items"]
            click.echo("  train-item Jaccard: " + ", ".join(
                f"{name} {items[ref]:.4f}" for ref, name in REFERENCES.items() if items[ref] is not None))
        att = r.attention
        if att["entropy_normalised"] is not None:
            click.echo(f"  attention entropy {att['entropy_nats']:.3f} nats "
                       f"({att['entropy_normalised']:.2f} of uniform)")
        if r.cold_start and r.cold_start.get("mean") is not None:
            click.echo(f"  cold-start agreement: mean cosine {r.cold_start['mean']:.3f}, "
                       f"median {r.cold_start['median']:.3f} ({r.cold_start['users']} users)")
    click.echo("report: " + ", ".join(str(p) for p in paths.values()))
