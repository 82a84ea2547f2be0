"""Entity linking: title normalisation, scoring, and real films/books through the Virtuoso mirror."""

from __future__ import annotations

import pytest

from personarec.loaders.dbpedia.linking import Candidate, ItemRef, decide, link_items, score
from personarec.loaders.dbpedia.sparql import SparqlClient
from personarec.loaders.dbpedia.text import move_article, normalize, split_label, title_heads, title_variants

DBR = "http://dbpedia.org/resource/"


def test_title_forms() -> None:
    assert move_article("Usual Suspects, The") == "The Usual Suspects"
    assert move_article("Postino, Il") == "Il Postino"
    assert move_article("Enfer, L'") == "L'Enfer"
    assert move_article("Crying Game, The: Director's Cut") == "The Crying Game: Director's Cut"
    assert title_variants("Seven (Se7en)")[:2] == ["Seven", "Se7en"]
    assert "Le Mépris" in title_variants("Contempt (Mépris, Le)")
    assert title_variants("Toy Story (1995)")[0] == "Toy Story"
    assert split_label("Richard III (1995 film)") == ("Richard III", "1995 film", 1995)
    assert split_label("Toy Story") == ("Toy Story", None, None)
    assert normalize("Misérables, Les") == normalize("miserables les")
    assert normalize("Beauty & the Beast") == "beauty and the beast"
    assert title_heads("Against Our Will: Men, Women, and Rape") == ["Against Our Will"]
    assert title_heads("Godfather: Part II, The") == []  # a sequel is not its head
    assert title_heads("Star Wars: Episode IV") == []


def test_scoring_uses_year_and_refuses_ambiguity() -> None:
    item = ItemRef("x:1", "Sabrina", "film", 1995)
    old = Candidate(DBR + "Sabrina_(1954_film)", "Sabrina (1954 film)")
    new = Candidate(DBR + "Sabrina_(1995_film)", "Sabrina (1995 film)")
    assert score(item, new) == 1.0 and score(item, old) < 0.8
    assert decide(item, [old, new], 0.8).uri == new.uri
    # Two resources that fit equally well: reported, never guessed.
    twin = Candidate(DBR + "Sabrina_(1995_film_2)", "Sabrina (1995 film)")
    link = decide(item, [new, twin], 0.8)
    assert not link.linked and link.reason.startswith("ambiguous")
    # An article alone is not a match ("The Fear" vs "Fear").
    assert score(ItemRef("x:2", "Fear, The", "film", 1996), Candidate(DBR + "Fear", "Fear (1996 film)")) < 0.8
    # The suffix names another kind: no link.
    assert score(ItemRef("x:3", "Dune", "film"), Candidate(DBR + "Dune_(novel)", "Dune (novel)")) == 0.0
    # A director known on both sides confirms, a different one weakens.
    heat = Candidate(DBR + "Heat", "Heat", "Heat is a 1995 film", ("Michael Mann",))
    assert score(ItemRef("x:4", "Heat", "film", 1995, ("Michael Mann",)), heat) == 1.0
    assert score(ItemRef("x:4", "Heat", "film", 1995, ("Someone Else",)), heat) < 0.9


FILMS = [  # (MovieLens id, title as u.item writes it, year, DBpedia resource or None)
    ("1", "Toy Story", 1995, DBR + "Toy_Story"),
    ("10", "Richard III", 1995, DBR + "Richard_III_(1995_film)"),
    ("11", "Seven (Se7en)", 1995, DBR + "Seven_(1995_film)"),
    ("12", "Usual Suspects, The", 1995, DBR + "The_Usual_Suspects"),
    ("14", "Postino, Il", 1994, DBR + "Il_Postino:_The_Postman"),
    ("1520", "Fear, The", 1995, None),
    ("9001", 'Tom said "Heat" \\ and left', 1995, None),
]


def test_real_films_through_the_mirror(sparql_endpoint: str) -> None:
    client = SparqlClient(sparql_endpoint, None, min_interval_s=0)
    items = [ItemRef(f"ml-100k:{i}", t, "film", y) for i, t, y, _ in FILMS]
    links = link_items(client, items, progress=False)
    assert [link.item_id for link in links] == [it.id for it in items]
    for link, (_, title, _, uri) in zip(links, FILMS, strict=True):
        assert link.uri == uri, (title, link)
        if uri:
            assert link.confidence >= 0.8
    assert links[4].method in ("label", "fulltext")
    assert client.requests <= 3  # one label batch, one free-text batch: not one request per item


def test_books_and_unlinkable_kinds(sparql_endpoint: str) -> None:
    client = SparqlClient(sparql_endpoint, None, min_interval_s=0)
    items = [ItemRef("lt:57176", "A Case of Need", "book"),
             ItemRef("lt:156627", "Enemy of God", "book"),
             ItemRef("amz:1", "Some Shampoo", "product"),
             ItemRef("lt:0", "", "book")]
    links = link_items(client, items, progress=False)
    assert links[0].uri == DBR + "A_Case_of_Need"
    assert links[1].uri == DBR + "Enemy_of_God_(novel)"
    assert not links[2].linked and "kind" in links[2].reason
    assert not links[3].linked and links[3].reason == "no title"


@pytest.mark.parametrize("title", ["'; DROP", '"""', "\\", "a\\\"b", "}}} UNION {{{"])
def test_hostile_titles_do_not_break_queries(sparql_endpoint: str, title: str) -> None:
    client = SparqlClient(sparql_endpoint, None, min_interval_s=0)
    [link] = link_items(client, [ItemRef("x:1", title, "film", 2000)], progress=False)
    assert not link.linked
