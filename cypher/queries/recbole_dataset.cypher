// The Dataset node of a dataset (split strategy, fingerprint, counts), if the loader wrote one.
// Params: $dataset.
MATCH (d:Dataset {name: $dataset})
RETURN properties(d) AS dataset;
