// Users that already hold recommendations of a run (a user's edges are written in one transaction).
// Params: $run.
MATCH (u:User)-[r:RECOMMENDED {run: $run}]->(:Item)
RETURN DISTINCT u.id AS user;
