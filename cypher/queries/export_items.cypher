// Export: every item of $dataset (null = all) with its LLM embedding (null when not embedded yet), in id order.
MATCH (i:Item)
WHERE $dataset IS NULL OR i.dataset = $dataset
RETURN i.id AS id, i.embedding AS embedding
ORDER BY id;
