// User personas (HDGI vectors) of one dataset, for the persona-aware candidate generator.
MATCH (u:User {dataset: $dataset})
WHERE u.persona IS NOT NULL
RETURN u.id AS id, u.persona AS vector
