// personas 5: why item $item is recommended to user $user (graph)
// Set the parameters (personas_1_set_params.cypher), then run this query (style: personas.grass):
//   :param user => 'ml-100k:1'
//   :param item => 'ml-100k:50'
// It draws user -> their 10 most recent train items -> a shared feature or DBpedia entity (or a direct
// item-item link) -> the item, and persona neighbours (10 nearest, vector index user_persona) -> the
// item when they took it in train. Caps keep it readable: the most specific shared nodes first (fewest
// items point at them), 25 such paths, 10 direct links, and no CO_INTERACTED fan-out beyond the recent
// items. Same logic as `personarec why` (personarec.jobs.explain).
MATCH (u:User {id: $user}), (target:Item {id: $item})
CALL (u) {
  MATCH (u)-[r:INTERACTED]->(ri:Item)
  WHERE r.split = 'train'
  WITH ri, max(r.seq) AS seq
  ORDER BY seq DESC, ri.id
  LIMIT 10
  RETURN collect(ri) AS recent
}
CALL (u, target, recent) {
  UNWIND recent AS ri
  MATCH p = (u)-[r:INTERACTED]->(ri)-[f]->(x)<-[g]-(target)
  WHERE r.split = 'train' AND ri <> target AND type(f) = type(g) AND NOT x:Item AND NOT x:User
  WITH p, COUNT { (x)<--() } AS degree
  ORDER BY degree
  LIMIT 25
  RETURN p
  UNION
  UNWIND recent AS ri
  MATCH p = (u)-[r:INTERACTED]->(ri)-[:ALSO_BOUGHT|ALSO_VIEWED|BOUGHT_TOGETHER|CO_INTERACTED]-(target)
  WHERE r.split = 'train' AND ri <> target
  RETURN p
  LIMIT 10
  UNION
  WITH u, target
  WHERE u.persona IS NOT NULL
  CALL db.index.vector.queryNodes('user_persona', 21, u.persona) YIELD node, score
  WITH u, target, node, score
  WHERE node <> u AND node.dataset = u.dataset
  ORDER BY score DESC
  LIMIT 10
  MATCH p = (node)-[r:INTERACTED]->(target)
  WHERE r.split = 'train'
  RETURN p
}
RETURN p;
