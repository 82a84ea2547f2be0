// All recommendation runs, newest first, with their edge counts.
MATCH (r:RecommendationRun)
OPTIONAL MATCH ()-[e:RECOMMENDED {run: r.id}]->()
WITH r, count(e) AS edges
RETURN r.id AS run, r.model AS model, r.dataset AS dataset, r.k AS k, r.status AS status,
       r.users_done AS users_done, r.sessions_done AS sessions_done, edges,
       r.throughput AS throughput, toString(r.created_at) AS created_at
ORDER BY r.created_at DESC, run;
