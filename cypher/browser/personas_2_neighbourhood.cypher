// personas 2: persona neighbourhood of $user as a graph ($k nearest personas, the items they share)
// The user, its $k nearest persona neighbours (vector index user_persona, same dataset), the 5 train items
// most of them took (the user's own first), and the 3 genres/categories most common among those items.
// Every neighbour is drawn, linked to the items it took; no CO_INTERACTED fan-out.
MATCH (u:User {id: $user})
WHERE u.persona IS NOT NULL
CALL db.index.vector.queryNodes('user_persona', toInteger($k) * 2 + 1, u.persona) YIELD node, score
WITH u, node, score
WHERE node <> u AND node.dataset = u.dataset
ORDER BY score DESC
LIMIT toInteger($k)
WITH u, collect(node) AS neighbours
CALL (u, neighbours) {
  UNWIND neighbours AS n
  MATCH (n)-[r:INTERACTED]->(i:Item)
  WHERE r.split = 'train'
  WITH i, count(DISTINCT n) AS users, EXISTS { (u)-[:INTERACTED {split: 'train'}]->(i) } AS own
  ORDER BY own DESC, users DESC, i.id
  LIMIT 5
  RETURN collect(i) AS items
}
CALL (u, neighbours, items) {
  UNWIND [u] + neighbours AS n
  MATCH p = (n)
  RETURN p
  UNION
  UNWIND [u] + neighbours AS n
  MATCH p = (n)-[r:INTERACTED]->(i:Item)
  WHERE r.split = 'train' AND i IN items
  RETURN p
  UNION
  UNWIND items AS i
  MATCH (i)-[f]->(g)
  WHERE type(f) IN ['HAS_GENRE', 'IN_CATEGORY']
  WITH items, g, count(*) AS n
  ORDER BY n DESC, coalesce(g.name, g.id)
  LIMIT 3
  UNWIND items AS i
  MATCH p = (i)-[f]->(g)
  WHERE type(f) IN ['HAS_GENRE', 'IN_CATEGORY']
  RETURN p
}
RETURN p;
