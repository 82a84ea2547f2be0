// Element ids of a dataset's users and items, read once after they are written, so the relationship
// scripts find their end nodes by elementId (a direct record lookup, ~1.6x faster on a 300k-row test
// than the seek on the id index). Params: $dataset.
MATCH (n:User {dataset: $dataset}) RETURN 'User' AS label, n.id AS id, elementId(n) AS eid
UNION ALL
MATCH (n:Item {dataset: $dataset}) RETURN 'Item' AS label, n.id AS id, elementId(n) AS eid;
