// Knowledge-graph triples hung on the items of a dataset: features, DBpedia facts, entity links and
// metadata item-item links. CO_INTERACTED is left out: it is derived from interactions, not knowledge.
// Params: $dataset, $relations (relationship types to export).
MATCH (i:Item {dataset: $dataset})-[r]->(t)
WHERE type(r) IN $relations
RETURN i.id AS head, type(r) AS relation, labels(t)[0] AS label,
       coalesce(t.uri, t.id, t.name) AS tail
ORDER BY head, relation, tail;
