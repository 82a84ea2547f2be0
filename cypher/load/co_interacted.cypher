// (:Item)-[:CO_INTERACTED {weight}]->(:Item): b directly followed a in some user's train history;
// weight = how many times. SET (not +=) so a rerun recomputes instead of doubling.
// $data: lines "src<TAB>dst<TAB>weight", items as element ids.
UNWIND split($data, '\n') AS line
WITH split(line, '\t') AS f
MATCH (a:Item) WHERE elementId(a) = f[0]
MATCH (b:Item) WHERE elementId(b) = f[1]
MERGE (a)-[r:CO_INTERACTED]->(b)
SET r.weight = toInteger(f[2]);
