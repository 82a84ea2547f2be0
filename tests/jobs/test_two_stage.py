"""The real two-stage model (personarec.session) driven by the batch job on the real Neo4j."""

from __future__ import annotations

from pathlib import Path

from personarec.config import Settings
from personarec.graph import Graph
from personarec.jobs import build_recommender, recommend, run_recommendations

ALL_EDGES = ("MATCH (u:User)-[r:RECOMMENDED {run: $run}]->(i:Item) "
             "RETURN u.id AS user, i.id AS item, r.rank AS rank, r.score AS score ORDER BY user, rank")


def test_two_stage_trains_saves_and_writes_the_same_run(graph: Graph, neo4j_settings: Settings,
                                                       tiny: dict[str, list[str]], tmp_path: Path) -> None:
    settings = neo4j_settings.model_copy(update={
        "session": neo4j_settings.session.model_copy(update={"epochs": 2, "n_candidates": 20})})
    model = build_recommender(graph, settings, "tiny", "two-stage", tmp_path / "models")
    assert (tmp_path / "models" / "tensors.safetensors").is_file()
    assert model.models.persona is not None  # the seeded users carry User.persona
    s = recommend(graph, settings, model, "two", k=5, batch_size=16, progress=False)
    assert (s.written, s.edges) == (40, 200)
    recs = run_recommendations(graph, "two")
    for user, items in recs.items():
        assert len(items) == 5 and not set(i.split(":")[1] for i in items) & set(tiny[user.split(":")[1]])
    # the saved model set, loaded again, writes exactly the same recommendations
    loaded = build_recommender(graph, settings, "tiny", "auto", tmp_path / "models")
    recommend(graph, settings, loaded, "two-again", k=5, batch_size=7, progress=False)
    first = [(r["user"], r["item"], r["rank"]) for r in graph.execute(ALL_EDGES, {"run": "two"})]
    again = [(r["user"], r["item"], r["rank"]) for r in graph.execute(ALL_EDGES, {"run": "two-again"})]
    assert first == again
