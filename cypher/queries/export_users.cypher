// Export (personarec.graph.export): every user of $dataset (null = all datasets), in id order.
MATCH (u:User)
WHERE $dataset IS NULL OR u.dataset = $dataset
RETURN u.id AS id
ORDER BY id;
