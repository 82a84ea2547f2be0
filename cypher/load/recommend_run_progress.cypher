// Record progress of a run (sessions, or a batch with nothing to write to Neo4j).
// Params: $run, $users_done, $sessions_done.
MATCH (r:RecommendationRun {id: $run})
SET r.users_done = coalesce($users_done, r.users_done),
    r.sessions_done = coalesce($sessions_done, r.sessions_done),
    r.updated_at = datetime()
RETURN properties(r) AS run;
