"""Schema and maintenance against the real server."""

from personarec import db
from personarec.config import Settings


def test_schema_is_listed_back_and_idempotent(graph, neo4j_settings: Settings) -> None:
    first = db.init_schema(graph, neo4j_settings)
    second = db.init_schema(graph, neo4j_settings)
    assert first == second
    by_name = {c["name"]: c for c in first}
    for name, label, prop in [("user_id", "User", "id"), ("item_id", "Item", "id"),
                              ("entity_uri", "Entity", "uri"), ("category_name", "Category", "name")]:
        assert by_name[name]["type"] == "UNIQUENESS"
        assert by_name[name]["labelsOrTypes"] == [label] and by_name[name]["properties"] == [prop]
    indexes = {i["name"]: i for i in graph.read("admin/indexes.cypher")}
    assert indexes["item_embedding"]["type"] == "VECTOR"
    assert indexes["item_embedding"]["options"]["indexConfig"]["vector.dimensions"] == neo4j_settings.embed.dimensions
    assert indexes["user_persona"]["options"]["indexConfig"]["vector.dimensions"] == neo4j_settings.persona.dimensions


def test_uniqueness_is_enforced(graph) -> None:
    import pytest

    from personarec.errors import GraphError

    graph.execute("CREATE (:User {id: 'u1'})")
    with pytest.raises(GraphError, match="ConstraintValidationFailed"):
        graph.execute("CREATE (:User {id: 'u1'})")


def test_reset_empties_graph_and_keeps_schema(graph, neo4j_settings: Settings) -> None:
    graph.execute("UNWIND range(1, 500) AS i CREATE (:User {id: toString(i)})-[:INTERACTED]->(:Item {id: toString(i)})")
    before = len(graph.read("admin/constraints.cypher"))
    db.reset(graph)
    assert db.counts(graph) == {"node": {}, "rel": {}}
    assert len(graph.read("admin/constraints.cypher")) == before


def test_counts(graph) -> None:
    graph.execute("CREATE (:User {id: 'a'})-[:INTERACTED]->(:Item {id: 'b'})<-[:INTERACTED]-(:User {id: 'c'})")
    assert db.counts(graph) == {"node": {"User": 2, "Item": 1}, "rel": {"INTERACTED": 2}}


def test_resolve_dataset(graph) -> None:
    import pytest

    from personarec.errors import PersonarecError

    with pytest.raises(PersonarecError, match="no users; load a dataset first"):
        db.resolve_dataset(graph, None)
    graph.execute("CREATE (:User {id: 'a:1', dataset: 'a'}), (:User {id: 'b:1', dataset: 'b'})")
    assert db.resolve_dataset(graph, "b") == "b"
    with pytest.raises(PersonarecError, match="several datasets \\(a, b\\)"):
        db.resolve_dataset(graph, None)
    with pytest.raises(PersonarecError, match="'c' has no users"):
        db.resolve_dataset(graph, "c")
    graph.execute("MATCH (u:User {dataset: 'b'}) DELETE u")
    assert db.resolve_dataset(graph, None) == "a"
