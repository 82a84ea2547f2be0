// Export: user-item events of the TRAINING split only (validation/test never reach the persona model).
MATCH (u:User)-[r:INTERACTED]->(i:Item)
WHERE r.split = 'train' AND ($dataset IS NULL OR u.dataset = $dataset)
RETURN u.id AS user, i.id AS item;
