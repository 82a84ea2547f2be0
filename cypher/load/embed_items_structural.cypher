// Store KG-structure item vectors (personarec.embed.structural) for items without text.
// Parameters: $rows [{id, embedding}], $model ('kg-svd'), $hash (digest of the item × context matrix).
UNWIND $rows AS row
MATCH (i:Item {id: row.id})
SET i.embedding_hash = $hash, i.embedding_model = $model
WITH i, row
CALL db.create.setNodeVectorProperty(i, 'embedding', row.embedding)
RETURN count(*) AS written;
