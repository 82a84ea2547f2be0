// Items of a dataset with their title, year and feature names (genres, categories, brands) for `.item`.
// Params: $dataset.
MATCH (i:Item {dataset: $dataset})
OPTIONAL MATCH (i)-[:HAS_GENRE|IN_CATEGORY|BY_BRAND]->(f)
WITH i, collect(DISTINCT f.name) AS features
RETURN i.raw_id AS item, i.id AS node, i.title AS title, i.year AS year, i.kind AS kind, features
ORDER BY node;
