// personas 3: metapath attention and loss of the run behind $user's persona (table)
// One row per metapath, highest attention β first, with a bar of its share; the loss curve of that run
// (the latest run of the user's dataset when the user has no persona) as first, last, min and epochs.
OPTIONAL MATCH (u:User {id: $user})
MATCH (r:PersonaRun)
WHERE r.id = u.persona_run OR (u.persona_run IS NULL AND (r.dataset IS NULL OR r.dataset = u.dataset))
WITH r
ORDER BY r.version DESC
LIMIT 1
UNWIND range(0, size(r.metapaths) - 1) AS m
WITH r, r.metapaths[m] AS metapath, r.metapath_attention[m] AS beta
RETURN metapath, round(beta, 3) AS beta, substring('████████████████████', 0, toInteger(round(beta * 20))) AS share,
       'v' + toString(r.version) + ' ' + r.model AS run, r.epochs AS epochs,
       round(r.loss_curve[0], 4) AS loss_first, round(r.loss_curve[-1], 4) AS loss_last,
       round(reduce(lo = r.loss_curve[0], x IN r.loss_curve | CASE WHEN x < lo THEN x ELSE lo END), 4) AS loss_min
ORDER BY beta DESC, metapath;
