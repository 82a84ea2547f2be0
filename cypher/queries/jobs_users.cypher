// Every user of a dataset, in a stable order (so batches and resumes line up).
// Params: $dataset.
MATCH (u:User {dataset: $dataset})
RETURN u.id AS user
ORDER BY user;
