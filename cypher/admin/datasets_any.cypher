// Every dataset named by a user or an item, for "dataset X is not in the graph (datasets: ...)" messages.
MATCH (u:User) WHERE u.dataset IS NOT NULL
RETURN DISTINCT u.dataset AS dataset
UNION
MATCH (i:Item) WHERE i.dataset IS NOT NULL
RETURN DISTINCT i.dataset AS dataset;
