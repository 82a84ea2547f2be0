// Delete up to $limit RECOMMENDED edges of a run; returns how many went (loop until 0).
// Params: $run, $limit.
MATCH ()-[r:RECOMMENDED {run: $run}]->()
WITH r LIMIT $limit
DELETE r
RETURN count(*) AS deleted;
