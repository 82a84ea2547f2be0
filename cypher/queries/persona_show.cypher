// A user's persona: its run, version, size and norm, and how many train items it was learned from.
// Params: $id (User.id).
MATCH (u:User {id: $id})
OPTIONAL MATCH (u)-[r:INTERACTED]->(:Item) WHERE r.split = 'train'
WITH u, count(r) AS train_items
OPTIONAL MATCH (run:PersonaRun {id: u.persona_run})
RETURN u.id AS user, u.persona_run AS run, u.persona_version AS version, size(u.persona) AS dims,
       sqrt(reduce(s = 0.0, v IN coalesce(u.persona, []) | s + v * v)) AS norm, train_items,
       run.metapaths AS metapaths, run.metapath_attention AS attention, toString(run.created_at) AS trained_at;
