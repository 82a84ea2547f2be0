// Create a RecommendationRun (or find it again for a rerun/resume) and mark it running unless done.
// Params: $run, $model, $dataset, $k, $kind ('users'|'sessions'), $config (JSON text).
MERGE (r:RecommendationRun {id: $run})
ON CREATE SET r.model = $model, r.dataset = $dataset, r.k = $k, r.kind = $kind, r.config = $config,
              r.created_at = datetime(), r.status = 'running', r.users_done = 0, r.sessions_done = 0
WITH r
SET r.status = CASE WHEN r.status = 'done' THEN 'done' ELSE 'running' END
RETURN properties(r) AS run;
