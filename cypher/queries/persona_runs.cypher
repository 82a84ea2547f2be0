// Persona runs, newest first. Params: $limit.
MATCH (r:PersonaRun)
RETURN r.id AS id, r.version AS version, r.dataset AS dataset, r.users AS users, r.epochs AS epochs,
       r.best_loss AS best_loss, r.metapaths AS metapaths, r.metapath_attention AS attention,
       toString(r.created_at) AS created_at
ORDER BY r.version DESC
LIMIT $limit;
