// Datasets that have users, for picking the default dataset of a batch run.
MATCH (u:User)
RETURN DISTINCT u.dataset AS dataset
ORDER BY dataset;
