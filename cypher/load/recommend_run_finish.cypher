// Mark a run done with its final counts and throughput (users or sessions per second).
// Params: $run, $users_done, $sessions_done, $throughput, $seconds.
MATCH (r:RecommendationRun {id: $run})
SET r.status = 'done', r.users_done = $users_done, r.sessions_done = $sessions_done,
    r.throughput = $throughput, r.seconds = $seconds, r.finished_at = datetime()
RETURN properties(r) AS run;
