// Datasets that have users, for commands that default to "the only dataset in the graph".
MATCH (u:User)
RETURN DISTINCT u.dataset AS dataset
ORDER BY dataset;
