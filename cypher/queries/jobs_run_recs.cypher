// The recommendations of a run, one row per user with items in rank order.
// Params: $run.
MATCH (u:User)-[r:RECOMMENDED {run: $run}]->(i:Item)
WITH u, r, i
ORDER BY u.id, r.rank
RETURN u.id AS user, collect(i.id) AS items, collect(r.rank) AS ranks, collect(r.score) AS scores;
