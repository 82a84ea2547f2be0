// Cold start: the LLM embeddings of a session's items ($ids: Item.id list), in the given order.
UNWIND range(0, size($ids) - 1) AS k
MATCH (i:Item {id: $ids[k]})
RETURN k, i.id AS id, i.embedding AS embedding
ORDER BY k;
