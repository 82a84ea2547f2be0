"""``personarec evaluate``: the five-row table under the pinned protocol (full ranking, history masked)."""

from __future__ import annotations

from pathlib import Path

import click

from personarec.cli.common import AppContext, parse_seeds, pass_app


@click.command()
@click.option("--dataset", default=None, help="Dataset name (default: the only dataset in the graph).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Report folder (default: ./reports/eval-<dataset>).")
@click.option("--seeds", default=None, help="Comma-separated seeds (default: eval.seeds, e.g. 2020,2021,2022).")
@click.option("--epochs", type=int, default=None, help="Maximum epochs per model (default: session.epochs).")
@click.option("--time-limit", type=float, default=None, help="Training seconds per model at most.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Seeds trained at once in separate processes (default: eval.jobs, 1).")
@click.option("--device", default=None, help="torch device: auto (CUDA when available), cpu, cuda, cuda:1 …")
@click.option("--save-inputs", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Only write what the evaluation reads from Neo4j (sequences, splits, personas, item "
                   "vectors) to this .npz file, to evaluate elsewhere with --inputs.")
@click.option("--inputs", "inputs_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Evaluate from a --save-inputs file instead of Neo4j (no database needed).")
@pass_app
def evaluate(app: AppContext, dataset: str | None, out_dir: Path | None, seeds: str | None,
             epochs: int | None, time_limit: float | None, jobs: int | None, device: str | None,
             save_inputs: Path | None, inputs_file: Path | None) -> None:
    """Train most-popular, SASRec, SASRec+history, persona-SASRec (+rerank) per seed and write a report.

    \b
    personarec evaluate --dataset ml-100k --out reports/eval-ml-100k
    personarec evaluate --dataset beauty --save-inputs beauty.npz     # on the Neo4j machine
    personarec evaluate --inputs beauty.npz --device cuda --jobs 3    # on a GPU box, no Neo4j
    """
    from personarec.db import resolve_dataset
    from personarec.eval.inputs import load_inputs
    from personarec.eval.inputs import save_inputs as write_inputs
    from personarec.eval.report import markdown_table
    from personarec.eval.runner import evaluate_inputs, read_inputs

    if save_inputs and inputs_file:
        raise click.UsageError("--save-inputs reads Neo4j and --inputs replaces it: give one of them.")
    seed_list = parse_seeds(seeds)
    # Every flag is checked before Neo4j is read or a model trained: a bad value costs nothing.
    settings = app.apply_flags({"session.epochs": ("--epochs", epochs), "session.time_limit_s": ("--time-limit",
                                time_limit), "session.device": ("--device", device), "eval.jobs": ("--jobs", jobs),
                                "eval.seeds": ("--seeds", seed_list)})
    if inputs_file:
        inputs = load_inputs(inputs_file)
        if dataset and dataset != inputs.data.dataset:
            raise click.BadParameter(f"{inputs_file} holds dataset {inputs.data.dataset!r}, not {dataset!r}",
                                     param_hint="--dataset")
    else:
        graph = app.graph()
        inputs = read_inputs(graph, resolve_dataset(graph, app.check_dataset(dataset)), settings)
    data = inputs.data
    if save_inputs:
        write_inputs(save_inputs, inputs)
        click.echo(f"{data.dataset}: {data.n_users} users, {data.n_items} items, personas "
                   f"{inputs.meta.get('persona_learner', 'yes') if inputs.personas is not None else 'no'}, "
                   f"reference personas {inputs.meta.get('reference_learner', 'no')}, item vectors "
                   f"{'yes' if inputs.item_vectors is not None else 'no'} -> {save_inputs}")
        return
    out = out_dir or Path("reports") / f"eval-{data.dataset}"
    report = evaluate_inputs(inputs, settings, out, seed_list)
    click.echo(f"{data.dataset}: test, full ranking, history masked; mean ± std over seeds {report.seeds}; "
               f"trained on {report.hardware}")
    click.echo(markdown_table(report))
    for note in report.notes:
        click.echo(f"note: {note}")
    click.echo(f"report: {out}/report.md")
