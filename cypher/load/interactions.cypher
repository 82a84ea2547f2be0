// (:User)-[:INTERACTED {rating, ts, seq, split}]->(:Item).
// $data: lines "user<TAB>item<TAB>rating<TAB>ts<TAB>seq<TAB>split" with user and item as element ids
// (load/dataset_element_ids.cypher; empty rating/ts = none).
// MERGE on (user, item, seq) keeps a reload idempotent while a repeated user–item pair at two
// positions stays two events.
UNWIND split($data, '\n') AS line
WITH split(line, '\t') AS f
MATCH (u:User) WHERE elementId(u) = f[0]
MATCH (i:Item) WHERE elementId(i) = f[1]
MERGE (u)-[r:INTERACTED {seq: toInteger(f[4])}]->(i)
SET r.rating = toFloat(f[2]), r.ts = toInteger(f[3]), r.split = f[5];
