// Export: item -> feature / DBpedia entity edges whose type is in $rels.
// The target's key is its `id` (Attribute), `name` (Category, Brand, Person, Genre) or `uri` (Entity);
// its label is the first of $labels it carries.
MATCH (i:Item)-[r]->(f)
WHERE type(r) IN $rels AND ($dataset IS NULL OR i.dataset = $dataset)
WITH i, r, f, [l IN labels(f) WHERE l IN $labels] AS known
WHERE size(known) > 0
RETURN i.id AS item, type(r) AS rel, known[0] AS label, coalesce(f.id, f.name, f.uri) AS key;
