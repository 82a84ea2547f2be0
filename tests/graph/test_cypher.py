import pytest

from personarec.errors import GraphError
from personarec.graph.cypher import cypher_dir, split_statements, statement, statements


def test_split_statements_drops_comments_and_keeps_inline_semicolons() -> None:
    text = "// header\nCREATE (n:A {x: 'a;b'});\n// between\nMATCH (n) RETURN n;\n"
    assert split_statements(text) == ["CREATE (n:A {x: 'a;b'})", "MATCH (n) RETURN n"]


def test_every_cypher_file_parses_into_statements() -> None:
    files = sorted(p.relative_to(cypher_dir()).as_posix() for p in cypher_dir().rglob("*.cypher"))
    assert "schema.cypher" in files
    for name in files:
        assert statements(name), f"{name} holds no statement"


def test_statement_requires_exactly_one() -> None:
    with pytest.raises(GraphError, match="exactly one statement"):
        statement("schema.cypher")
    with pytest.raises(GraphError, match="not found"):
        statement("no/such.cypher")
