// The PersonaRun node of one training run (same transaction as its personas).
CREATE (r:PersonaRun {id: $id, version: $version, model: $model, dataset: $dataset, config: $config,
                      loss_curve: $loss_curve, metapaths: $metapaths, metapath_attention: $attention,
                      users: $users, epochs: $epochs, best_loss: $best_loss, model_path: $model_path,
                      created_at: datetime()})
RETURN r.id AS id;
