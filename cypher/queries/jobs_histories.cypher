// The histories (item ids in seq order) and personas of a batch of users.
// Params: $users (list of node ids), $splits (INTERACTED.split values to include).
UNWIND $users AS uid
MATCH (u:User {id: uid})
OPTIONAL MATCH (u)-[r:INTERACTED]->(i:Item)
WHERE r.split IN $splits
WITH u, r, i
ORDER BY u.id, r.seq
RETURN u.id AS user, u.persona AS persona, [x IN collect(i.id) WHERE x IS NOT NULL] AS items;
