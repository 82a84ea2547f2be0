// Names of the datasets that have interactions, for `personarec evaluate` without --dataset.
MATCH (d:Dataset)
RETURN d.name AS name
ORDER BY name
