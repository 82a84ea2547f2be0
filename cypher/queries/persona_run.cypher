// The latest PersonaRun (of $dataset when given, else of any dataset), or the run with id $run.
MATCH (r:PersonaRun)
WHERE ($run IS NULL OR r.id = $run) AND ($dataset IS NULL OR r.dataset = $dataset OR r.dataset IS NULL)
RETURN r.id AS id, r.version AS version, r.model AS model, r.learner AS learner, r.dataset AS dataset, r.model_key AS model_key,
       r.model_sha256 AS model_sha256,
       r.metapaths AS metapaths, r.metapath_attention AS attention, r.users AS users, r.epochs AS epochs,
       r.best_loss AS best_loss, toString(r.created_at) AS created_at
ORDER BY r.version DESC
LIMIT 1;
