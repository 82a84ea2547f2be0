// Items nearest to a query vector by the `item_embedding` cosine vector index.
// Parameters: $k (neighbours), $vector (list of floats of the index's dimension).
CALL db.index.vector.queryNodes('item_embedding', $k, $vector) YIELD node, score
RETURN node.id AS id, node.title AS title, score ORDER BY score DESC;
