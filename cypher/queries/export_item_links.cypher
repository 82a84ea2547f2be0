// Export: item -> item links whose type is in $rels (Amazon metadata, train co-interactions).
MATCH (i:Item)-[r]->(j:Item)
WHERE type(r) IN $rels AND ($dataset IS NULL OR i.dataset = $dataset)
RETURN i.id AS src, j.id AS dst, type(r) AS rel, coalesce(r.weight, 1.0) AS weight;
