// The items that dominate the persona neighbourhood of user $id: the train items most often held by
// the $k users with the closest personas. Params: $id, $k, $limit.
MATCH (u:User {id: $id})
WHERE u.persona IS NOT NULL
CALL db.index.vector.queryNodes('user_persona', $k * 2 + 1, u.persona) YIELD node, score
WITH u, node, score WHERE node <> u AND node.dataset = u.dataset
ORDER BY score DESC LIMIT $k
MATCH (node)-[r:INTERACTED]->(i:Item) WHERE r.split = 'train'
WITH i, count(DISTINCT node) AS users, EXISTS { (u)-[:INTERACTED {split: 'train'}]->(i) } AS own
RETURN i.id AS item, i.title AS title, users, own
ORDER BY users DESC, item
LIMIT $limit;
