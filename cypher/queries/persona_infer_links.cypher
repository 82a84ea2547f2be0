// Cold start, metapath U-I-I-U: session items -> linked items (types $rels, either direction) -> users,
// at most $k per hop, top $k users by path count.
UNWIND $ids AS iid
MATCH (i:Item {id: iid})
CALL (i) {
  MATCH (i)-[l]-(j:Item)
  WHERE type(l) IN $rels
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
