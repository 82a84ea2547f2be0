// The PersonaRun node of one training run (same transaction as its personas). The encoder is named by its
// key relative to the model store plus its content hash, never by a path of the machine that trained it.
// learner: the persona learner name (hdgi, hdgi-struct, heco); model: its module (HDGI, HDGI-struct, HeCo).
CREATE (r:PersonaRun {id: $id, version: $version, model: $model, learner: $learner, dataset: $dataset,
                      config: $config,
                      loss_curve: $loss_curve, metapaths: $metapaths, metapath_attention: $attention,
                      users: $users, epochs: $epochs, best_loss: $best_loss, model_key: $model_key,
                      model_sha256: $model_sha256, created_at: datetime()})
RETURN r.id AS id;
