// Items to link to DBpedia: id, title, year, kind, and the people known to have made them
// (BY_AUTHOR persons; a director would come the same way). $dataset null = every dataset.
MATCH (i:Item)
WHERE ($dataset IS NULL OR i.dataset = $dataset) AND i.title IS NOT NULL
OPTIONAL MATCH (i)-[:BY_AUTHOR]->(p:Person)
WITH i, [name IN collect(p.name) WHERE name IS NOT NULL] AS people
RETURN i.id AS id, i.title AS title, i.year AS year, coalesce(i.kind, 'product') AS kind, people
ORDER BY id;
