// LLM item embeddings of one dataset, to initialise the session models' item embeddings.
MATCH (i:Item {dataset: $dataset})
WHERE i.embedding IS NOT NULL
RETURN i.id AS id, i.embedding AS vector
