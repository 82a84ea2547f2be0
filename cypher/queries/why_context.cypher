// "Why this item" (personarec why): the user $user and item $item as found in the graph (one row even
// when either is missing), whether the user has a persona, the splits in which the user already took the
// item, and, when $run is given, whether that RecommendationRun exists and the item's rank and score in
// it for the user. Params: $user, $item, $run (null = no run).
OPTIONAL MATCH (u:User {id: $user})
OPTIONAL MATCH (i:Item {id: $item})
OPTIONAL MATCH (run:RecommendationRun {id: $run})
OPTIONAL MATCH (u)-[rec:RECOMMENDED {run: $run}]->(i)
RETURN u IS NOT NULL AS user_found, i IS NOT NULL AS item_found, u.dataset AS user_dataset,
       i.dataset AS item_dataset, coalesce(i.title, i.raw_id, i.id) AS title, i.kind AS kind,
       u.persona IS NOT NULL AS has_persona, run IS NOT NULL AS run_found, rec.rank AS rank, rec.score AS score,
       CASE WHEN u IS NULL OR i IS NULL THEN []
            ELSE [(u)-[r:INTERACTED]->(i) | r.split] END AS taken;
