// Mark a dataset as being loaded (status 'loading' until load/dataset_finish.cypher runs), so a load
// that was interrupted is visible as such. Returns the fingerprint of the last completed load, if any.
// Params: $dataset, $source, $format, $split.
MERGE (d:Dataset {name: $dataset})
WITH d, d.fingerprint AS previous
SET d.source = $source, d.format = $format, d.split = $split, d.status = 'loading',
    d.started_at = datetime()
RETURN previous;
