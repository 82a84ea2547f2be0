"""RecBole atomic files written from a real Neo4j read back to exactly our split."""

from __future__ import annotations

import hashlib
from pathlib import Path

from personarec.export import export_recbole, read_atomic, read_benchmark_split, split_fingerprint
from personarec.graph import Graph

ML100K_FINGERPRINT = "8db20a8f58eff3f53c69381d62b3114c"  # docs/protocol.md

# Test-only seeding of a hand-made KG; the loaders have their own tests.
SEED = """
CREATE (d:Dataset {name: 'kg'})
CREATE (a:Item {id: 'kg:a', raw_id: 'a', dataset: 'kg', title: 'Alpha\tOne', year: 1999})
CREATE (b:Item {id: 'kg:b', raw_id: 'b', dataset: 'kg', title: 'Beta'})
CREATE (c:Item {id: 'kg:c', raw_id: 'c', dataset: 'kg', title: 'Gamma'})
CREATE (g:Genre {name: 'Film Noir'}), (cat:Category {name: 'Film Noir'})
CREATE (e:Entity {uri: 'http://dbpedia.org/resource/Alpha'}), (p:Entity {uri: 'http://dbpedia.org/resource/Jo'})
CREATE (a)-[:HAS_GENRE]->(g), (b)-[:HAS_GENRE]->(g), (b)-[:IN_CATEGORY]->(cat),
       (a)-[:SAME_AS {confidence: 1.0}]->(e), (a)-[:DIRECTED_BY]->(p), (a)-[:ALSO_BOUGHT]->(b),
       (a)-[:CO_INTERACTED {weight: 3}]->(c)
WITH a, b, c
UNWIND [['10', [['a', 5], ['b', 5], ['c', 7]]], ['9', [['c', 1], ['a', 2], ['b', 3], ['a', 4]]], ['2', [['b', 1]]]] AS u
CREATE (user:User {id: 'kg:' + u[0], raw_id: u[0], dataset: 'kg'})
WITH user, u
UNWIND range(0, size(u[1]) - 1) AS pos
MATCH (i:Item {id: 'kg:' + u[1][pos][0]})
CREATE (user)-[:INTERACTED {rating: 1.0, ts: u[1][pos][1], seq: pos,
        split: CASE WHEN size(u[1]) < 3 THEN 'train' WHEN pos = size(u[1]) - 1 THEN 'test'
               WHEN pos = size(u[1]) - 2 THEN 'valid' ELSE 'train' END}]->(i)
"""


def test_small_kg_export(graph: Graph, tmp_path: Path) -> None:
    graph.execute(SEED)
    s = export_recbole(graph, tmp_path, "kg", max_len=2, progress=False)
    folder = tmp_path / "kg"
    assert (s.users, s.items, s.interactions) == (3, 3, 8)
    assert s.split_counts == {"train": 4, "valid": 2, "test": 2}
    inter = read_atomic(folder / "kg.inter")
    assert [(r["user_id"], r["item_id"], r["timestamp"]) for r in inter] == [
        ("2", "b", 1.0), ("9", "c", 1.0), ("9", "a", 2.0), ("9", "b", 3.0), ("9", "a", 4.0),
        ("10", "a", 5.0), ("10", "b", 5.0), ("10", "c", 7.0)]
    train = read_atomic(folder / "kg.train.inter")
    assert [(r["user_id"], r["item_id_list"], r["item_id"]) for r in train] == [("9", ["c"], "a")]
    test = read_atomic(folder / "kg.test.inter")
    # the list keeps the most recent max_len=2 items
    assert [(r["user_id"], r["item_id_list"], r["item_id"]) for r in test] == [("9", ["a", "b"], "a"),
                                                                                ("10", ["a", "b"], "c")]
    assert read_benchmark_split(folder, "kg") == {"9": (["b"], ["a"]), "10": (["b"], ["c"])}
    assert s.fingerprint == hashlib.md5(b"9\tb\ta\n10\tb\tc\n").hexdigest()
    kg = {(r["head_id"], r["relation_id"], r["tail_id"]) for r in read_atomic(folder / "kg.kg")}
    assert kg == {("kg:a", "HAS_GENRE", "Genre:Film Noir"), ("kg:b", "HAS_GENRE", "Genre:Film Noir"),
                  ("kg:b", "IN_CATEGORY", "Category:Film Noir"),
                  ("kg:a", "SAME_AS", "http://dbpedia.org/resource/Alpha"),
                  ("kg:a", "DIRECTED_BY", "http://dbpedia.org/resource/Jo"), ("kg:a", "ALSO_BOUGHT", "kg:b")}
    assert read_atomic(folder / "kg.link") == [{"item_id": "a", "entity_id": "kg:a"},
                                              {"item_id": "b", "entity_id": "kg:b"}]
    items = {r["item_id"]: r for r in read_atomic(folder / "kg.item")}
    assert items["a"]["title"] == ["Alpha", "One"] and items["a"]["year"] == "1999"
    assert items["b"]["features"] == ["Category:Film_Noir"] or items["b"]["features"] == ["Film_Noir"]
    assert "benchmark_filename: [train, valid, test]" in (folder / "kg.yaml").read_text()


ML_SEED = """
UNWIND $rows AS row
MERGE (u:User {id: 'ml-100k:' + row.user}) ON CREATE SET u.raw_id = row.user, u.dataset = 'ml-100k'
MERGE (i:Item {id: 'ml-100k:' + row.item}) ON CREATE SET i.raw_id = row.item, i.dataset = 'ml-100k'
CREATE (u)-[:INTERACTED {rating: row.rating, ts: row.ts, seq: row.seq, split: row.split}]->(i)
"""


def _seed_movielens(graph: Graph, u_data: Path) -> None:
    """u.data into the graph with the pinned leave-one-out: stable time sort, so ties keep file order."""
    hist: dict[str, list[tuple[str, float, int]]] = {}
    for line in u_data.read_text().splitlines():
        user, item, rating, ts = line.split("\t")
        hist.setdefault(user, []).append((item, float(rating), int(ts)))
    rows = []
    for user, events in hist.items():
        events.sort(key=lambda e: e[2])
        n = len(events)
        for seq, (item, rating, ts) in enumerate(events):
            split = "test" if seq == n - 1 else "valid" if seq == n - 2 else "train"
            rows.append({"user": user, "item": item, "rating": rating, "ts": ts, "seq": seq, "split": split})
    for start in range(0, len(rows), 20_000):
        graph.execute(ML_SEED, {"rows": rows[start:start + 20_000]})


def test_movielens_round_trips_to_the_pinned_split(graph: Graph, shared_data: Path, tmp_path: Path) -> None:
    _seed_movielens(graph, shared_data / "movielens-100k" / "u.data")
    s = export_recbole(graph, tmp_path, "ml-100k", progress=False)
    folder = tmp_path / "ml-100k"
    assert s.fingerprint == ML100K_FINGERPRINT
    assert (s.users, s.items, s.interactions) == (943, 1682, 100_000)
    # 1. the benchmark files RecBole's sequential models read hold exactly our split
    assert split_fingerprint(read_benchmark_split(folder, "ml-100k")) == ML100K_FINGERPRINT
    # 2. the plain .inter, sorted stably by (user, time) as RecBole does, gives the same leave-one-out
    inter = read_atomic(folder / "ml-100k.inter")
    order = sorted(range(len(inter)), key=lambda n: (inter[n]["user_id"], inter[n]["timestamp"]))
    hist: dict[str, list[str]] = {}
    for n in order:
        hist.setdefault(inter[n]["user_id"], []).append(inter[n]["item_id"])
    assert split_fingerprint({u: ([h[-2]], [h[-1]]) for u, h in hist.items()}) == ML100K_FINGERPRINT
    # 3. train rows are every train item after the first, each with the (at most 50) items before it
    train = read_atomic(folder / "ml-100k.train.inter")
    assert len(train) + 943 == s.split_counts["train"] == 100_000 - 2 * 943
    by_user: dict[str, list[dict]] = {}
    for r in train:
        by_user.setdefault(r["user_id"], []).append(r)
    for user, rows in by_user.items():
        h = hist[user]
        for j, r in enumerate(rows):  # row j predicts the (j+1)-th item from the ones before it
            assert r["item_id"] == h[j + 1] and r["item_id_list"] == h[max(0, j + 1 - 50):j + 1]
