// Users of one dataset. $data: lines "id<TAB>raw_id" (ids are validated free of tabs and newlines;
// one text parameter per batch is far cheaper for the driver to send than a list of maps).
// Param: $dataset.
UNWIND split($data, '\n') AS line
WITH split(line, '\t') AS f
MERGE (u:User {id: f[0]})
SET u.raw_id = f[1], u.dataset = $dataset;
