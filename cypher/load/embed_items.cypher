// Store item embeddings (personarec.embed). setNodeVectorProperty validates the vector and stores
// it as float32, half the size of a list of doubles. Parameters: $rows [{id, text, hash, embedding}], $model.
UNWIND $rows AS row
MATCH (i:Item {id: row.id})
SET i.text = row.text, i.embedding_hash = row.hash, i.embedding_model = $model
WITH i, row
CALL db.create.setNodeVectorProperty(i, 'embedding', row.embedding)
RETURN count(*) AS written;
