"""The persona exploration API (personarec.persona.explore) on the planted three-group graph.

Personas are written directly (group centroid plus a little noise), so the expected neighbours are
known without training: a user's nearest personas are users of the same group, whose train items come
from the group's cluster, with its genre and director.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from personarec.graph import Graph
from personarec.persona import PersonaError
from personarec.persona.explore import (
    PersonaInfo,
    explain_pair,
    neighbourhood,
    persona_runs,
    show_persona,
    similar_to_vector,
    similar_users,
    user_key,
)

DIMS = 64


@pytest.fixture
def personas(graph: Graph, small_kg: dict[str, Any]) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    centroids = rng.standard_normal((3, DIMS))
    rows = [{"id": user, "p": (centroids[g] + 0.05 * rng.standard_normal(DIMS)).tolist()}
            for user, g in small_kg["user_group"].items()]
    graph.execute("CREATE (:PersonaRun {id: 'run-1', version: 1, dataset: 'toy', users: 60, epochs: 5, best_loss: 0.5, "
                  "metapaths: ['U-I-U', 'U-I-Genre-I-U'], metapath_attention: [0.4, 0.6], created_at: datetime()})")
    graph.execute("UNWIND $rows AS r MATCH (u:User {id: r.id}) "
                  "SET u.persona = r.p, u.persona_run = 'run-1', u.persona_version = 1", {"rows": rows})
    return {"centroids": centroids, **small_kg}


def test_user_key() -> None:
    assert user_key("42", "ml-100k") == "ml-100k:42"
    assert user_key("ml-100k:42", "ml-100k") == "ml-100k:42"
    assert user_key("x:42", None) == "x:42"


def test_show_persona(graph: Graph, personas: dict[str, Any]) -> None:
    info = show_persona(graph, "toy:u0")
    assert isinstance(info, PersonaInfo)
    assert info.user == "toy:u0" and info.run == "run-1" and info.version == 1 and info.dims == DIMS
    assert info.train_items == 8 and info.norm > 0
    assert info.metapaths == ["U-I-U", "U-I-Genre-I-U"] and info.attention == pytest.approx([0.4, 0.6])
    assert set(info.as_dict()) == {"user", "run", "version", "dims", "norm", "train_items", "metapaths",
                                   "attention", "trained_at"}


def test_similar_users_are_of_the_same_group(graph: Graph, personas: dict[str, Any]) -> None:
    group = personas["user_group"]
    near = similar_users(graph, "toy:u0", k=5)
    assert len(near) == 5 and all(n.user != "toy:u0" for n in near)
    assert all(group[n.user] == group["toy:u0"] for n in near)
    assert [n.score for n in near] == sorted((n.score for n in near), reverse=True)
    by_vector = similar_to_vector(graph, personas["centroids"][1].tolist(), k=4, dataset="toy")
    assert len(by_vector) == 4 and all(group[n.user] == 1 for n in by_vector)
    assert similar_to_vector(graph, personas["centroids"][1].tolist(), k=4, dataset="other") == []


def test_neighbourhood_is_dominated_by_the_group_cluster(graph: Graph, personas: dict[str, Any]) -> None:
    hood = neighbourhood(graph, "toy:u3", k=8, limit=5)
    g = personas["user_group"]["toy:u3"]
    item_group = personas["item_group"]
    assert hood.user == "toy:u3" and len(hood.items) == 5
    assert all(item_group[int(it.item.split(":i")[1])] == g for it in hood.items[:3])
    assert [it.users for it in hood.items] == sorted((it.users for it in hood.items), reverse=True)
    top = hood.features[0]
    assert top.users == 8 and top.name in {f"genre-{g}", f"http://dbpedia.org/resource/Director_{g}"}
    assert {f.via for f in hood.features} >= {"HAS_GENRE", "DIRECTED_BY"}


def test_explain_pair_lists_shared_paths_per_metapath(graph: Graph, personas: dict[str, Any]) -> None:
    shared = explain_pair(graph, "toy:u0", "toy:u3", limit=50)  # same group (0)
    metapaths = {s.metapath for s in shared}
    assert "U-I-Genre-I-U" in metapaths and "U-I-Entity-I-U" in metapaths
    genre = next(s for s in shared if s.metapath == "U-I-Genre-I-U" and s.shared == "genre-0")
    assert genre.kind == "HAS_GENRE" and genre.paths > 1
    assert [s.paths for s in shared] == sorted((s.paths for s in shared), reverse=True)
    assert len(explain_pair(graph, "toy:u0", "toy:u3", limit=2)) == 2


def test_runs(graph: Graph, personas: dict[str, Any]) -> None:
    runs = persona_runs(graph)
    assert [r["id"] for r in runs] == ["run-1"] and runs[0]["users"] == 60


def test_clear_errors(graph: Graph, small_kg: dict[str, Any]) -> None:
    with pytest.raises(PersonaError, match="toy:nobody is not in the graph"):
        show_persona(graph, "toy:nobody")
    with pytest.raises(PersonaError, match="toy:u0 has no persona yet"):
        similar_users(graph, "toy:u0")
    with pytest.raises(PersonaError, match="toy:u0 has no persona yet"):
        neighbourhood(graph, "toy:u0")
    with pytest.raises(PersonaError, match="toy:ghost is not in the graph"):
        explain_pair(graph, "toy:u0", "toy:ghost")
    with pytest.raises(PersonaError, match="k must be at least 1"):
        similar_users(graph, "toy:u0", k=0)
    # explaining needs no persona: it reads the train graph
    assert explain_pair(graph, "toy:u0", "toy:u3")
