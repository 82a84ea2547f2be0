// Cold start, metapath U-I-<Label>-I-U: session items -> feature/entity nodes ($label, relationship
// types $rels) -> other items -> users, at most $k per hop, top $k users by path count.
UNWIND $ids AS iid
MATCH (i:Item {id: iid})
CALL (i) {
  MATCH (i)-[r1]->(f)
  WHERE type(r1) IN $rels AND $label IN labels(f)
  RETURN DISTINCT f LIMIT $k
}
CALL (f) {
  MATCH (f)<-[r2]-(j:Item)
  WHERE type(r2) IN $rels
  RETURN DISTINCT j LIMIT $k
}
CALL (j) {
  MATCH (j)<-[r:INTERACTED]-(u:User)
  WHERE r.split = 'train' AND ($dataset IS NULL OR u.dataset = $dataset)
  RETURN DISTINCT u LIMIT $k
}
WITH u, count(*) AS paths
ORDER BY paths DESC, u.id
LIMIT $k
RETURN u.id AS id, paths;
