// Users whose personas are closest to user $id (cosine, vector index `user_persona`), same dataset.
// Params: $id (User.id), $k. Paste in Neo4j Browser with :param id => 'ml-100k:1'; :param k => 10
MATCH (u:User {id: $id})
WHERE u.persona IS NOT NULL
CALL db.index.vector.queryNodes('user_persona', $k * 2 + 1, u.persona) YIELD node, score
WITH u, node, score
WHERE node <> u AND node.dataset = u.dataset
RETURN node.id AS user, score
ORDER BY score DESC
LIMIT $k;
