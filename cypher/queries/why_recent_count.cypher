// "Why this item": how many distinct train items of user $user are looked at (at most $recent).
// Params: $user, $recent.
MATCH (u:User {id: $user})-[r:INTERACTED]->(ri:Item)
WHERE r.split = 'train'
WITH count(DISTINCT ri) AS items
RETURN CASE WHEN items < $recent THEN items ELSE $recent END AS looked;
