// "Why this item": the $k users of the same dataset with the personas closest to user $user's (vector
// index `user_persona`, cosine score), each with whether they took item $item in their train split.
// Params: $user, $item, $k.
MATCH (u:User {id: $user})
WHERE u.persona IS NOT NULL
CALL db.index.vector.queryNodes('user_persona', $k * 2 + 1, u.persona) YIELD node, score
WITH u, node, score
WHERE node <> u AND node.dataset = u.dataset
ORDER BY score DESC, node.id
LIMIT $k
RETURN node.id AS user, score,
       EXISTS { MATCH (node)-[r:INTERACTED]->(:Item {id: $item}) WHERE r.split = 'train' } AS took
ORDER BY score DESC, user;
