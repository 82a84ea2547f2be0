// Whether any item of $dataset (null = any) has an LLM embedding: the mean-item-embedding reference of
// `personarec personas assess` needs them. Params: $dataset.
RETURN EXISTS {
  MATCH (i:Item)
  WHERE ($dataset IS NULL OR i.dataset = $dataset) AND i.embedding IS NOT NULL
} AS embedded;
