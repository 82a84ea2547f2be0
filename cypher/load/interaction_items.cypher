// Items seen in interactions, which may have no metadata. $data: lines "id<TAB>raw_id<TAB>kind".
// Param: $dataset. The kind from metadata wins over the one guessed from the interactions file.
UNWIND split($data, '\n') AS line
WITH split(line, '\t') AS f
MERGE (i:Item {id: f[0]})
SET i.raw_id = f[1], i.dataset = $dataset, i.kind = coalesce(i.kind, f[2]);
