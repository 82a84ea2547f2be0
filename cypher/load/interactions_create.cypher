// First load of a dataset (no INTERACTED or CO_INTERACTED of it in the graph yet): CREATE instead of
// MERGE, since the rows of one load are unique by (user, seq). Any later load, or the rerun of an
// interrupted one, finds edges and uses load/interactions.cypher, so reruns stay idempotent.
// $data: lines "user<TAB>item<TAB>rating<TAB>ts<TAB>seq<TAB>split" with user and item as element ids
// (load/dataset_element_ids.cypher; empty rating/ts = none).
UNWIND split($data, '\n') AS line
WITH split(line, '\t') AS f
MATCH (u:User) WHERE elementId(u) = f[0]
MATCH (i:Item) WHERE elementId(i) = f[1]
CREATE (u)-[:INTERACTED {seq: toInteger(f[4]), rating: toFloat(f[2]), ts: toInteger(f[3]), split: f[5]}]->(i);
