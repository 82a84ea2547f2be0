// Which model made each item's stored embedding (null: none), for one dataset.
// Parameters: $dataset.
MATCH (i:Item {dataset: $dataset})
RETURN i.id AS id, CASE WHEN i.embedding IS NULL THEN null ELSE coalesce(i.embedding_model, 'unknown') END AS model;
