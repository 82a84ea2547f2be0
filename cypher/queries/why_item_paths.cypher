// "Why this item": the KG paths from the $recent most recent distinct train items of user $user (by
// their latest seq) to item $item: a shared feature or DBpedia entity reached by the same relationship
// type from both items (item-F-item), or a direct item-item link. `degree` = how many relationships
// point at the shared node (feature and entity nodes are only pointed at by items), so the caller can
// weigh "Drama" below a director. Params: $user, $item, $recent.
MATCH (u:User {id: $user}), (target:Item {id: $item})
CALL (u) {
  MATCH (u)-[r:INTERACTED]->(ri:Item)
  WHERE r.split = 'train'
  WITH ri, max(r.seq) AS seq
  ORDER BY seq DESC, ri.id
  LIMIT $recent
  RETURN ri, seq
}
WITH target, ri, seq
WHERE ri <> target
CALL (ri, target) {
  MATCH (ri)-[f:IN_CATEGORY|BY_BRAND|BY_AUTHOR|HAS_GENRE|HAS_ATTRIBUTE|SAME_AS|DIRECTED_BY|STARRING|WRITTEN_BY|PRODUCED_BY|AUTHORED_BY|PUBLISHED_BY|IN_SERIES|HAS_SUBJECT|DBPEDIA_GENRE|DISTRIBUTED_BY|CINEMATOGRAPHY_BY]->(x)<-[g]-(target)
  WHERE type(g) = type(f)
  RETURN CASE WHEN x:Entity THEN 'entity' ELSE 'feature' END AS kind, type(f) AS via,
         labels(x)[0] AS shared_kind, coalesce(x.label, x.name, x.raw_id, x.id, x.uri) AS shared,
         COUNT { (x)<--() } AS degree, null AS weight
  UNION ALL
  MATCH (ri)-[l:ALSO_BOUGHT|ALSO_VIEWED|BOUGHT_TOGETHER|CO_INTERACTED]-(target)
  RETURN 'link' AS kind, type(l) AS via, null AS shared_kind, null AS shared, null AS degree,
         l.weight AS weight
}
RETURN ri.id AS item, coalesce(ri.title, ri.raw_id, ri.id) AS title, seq, kind, via, shared_kind, shared,
       degree, weight
ORDER BY seq DESC, item, via, shared;
