// Cold start, metapath U-I-U: users who share a session item, at most $k per item, top $k by path count.
UNWIND $ids AS iid
MATCH (i:Item {id: iid})
CALL (i) {
  MATCH (i)<-[r:INTERACTED]-(u:User)
  WHERE r.split = 'train' AND ($dataset IS NULL OR u.dataset = $dataset)
  RETURN DISTINCT u LIMIT $k
}
WITH u, count(*) AS paths
ORDER BY paths DESC, u.id
LIMIT $k
RETURN u.id AS id, paths;
