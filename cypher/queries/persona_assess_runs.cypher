// Persona runs to assess (personarec personas assess): the run $run, or every run of $dataset (runs
// trained on all datasets, dataset null, count for every dataset), newest first, with their loss curve,
// metapath attention and model store key. Params: $dataset (null = any), $run (null = all).
MATCH (r:PersonaRun)
WHERE ($run IS NULL OR r.id = $run) AND ($dataset IS NULL OR r.dataset = $dataset OR r.dataset IS NULL)
RETURN r.id AS id, r.version AS version, r.model AS model, coalesce(r.learner, 'hdgi') AS learner,
       r.dataset AS dataset, r.config AS config,
       r.model_key AS model_key, r.model_sha256 AS model_sha256, r.metapaths AS metapaths,
       r.metapath_attention AS attention, r.loss_curve AS loss_curve, r.users AS users, r.epochs AS epochs,
       r.best_loss AS best_loss, toString(r.created_at) AS created_at
ORDER BY r.version DESC;
