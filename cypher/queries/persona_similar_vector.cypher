// Users whose personas are closest to a given persona vector $vector (e.g. an inferred cold-start
// persona), optionally of dataset $dataset. Params: $vector, $k, $dataset.
CALL db.index.vector.queryNodes('user_persona', $k * 2, $vector) YIELD node, score
WITH node, score
WHERE $dataset IS NULL OR node.dataset = $dataset
RETURN node.id AS user, score
ORDER BY score DESC
LIMIT $k;
