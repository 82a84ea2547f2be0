// Mark a dataset as being loaded (status 'loading' until load/dataset_finish.cypher runs), so a load
// that was interrupted is visible as such. Params: $dataset, $source, $format, $split.
MERGE (d:Dataset {name: $dataset})
SET d.source = $source, d.format = $format, d.split = $split, d.status = 'loading',
    d.started_at = datetime()
RETURN d.name AS name;
