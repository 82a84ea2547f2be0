// First load of a dataset: CREATE the CO_INTERACTED pairs (unique within one load) instead of MERGE;
// see load/interactions_create.cypher for when this is safe. $data: lines "src<TAB>dst<TAB>weight", items as element ids.
UNWIND split($data, '\n') AS line
WITH split(line, '\t') AS f
MATCH (a:Item) WHERE elementId(a) = f[0]
MATCH (b:Item) WHERE elementId(b) = f[1]
CREATE (a)-[:CO_INTERACTED {weight: toInteger(f[2])}]->(b);
