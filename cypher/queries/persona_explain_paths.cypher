// Neo4j Browser view of why users $a and $b are close: explicit paths through at most 5 shared items and
// through the 5 most specific features / DBpedia entities of their items (fewest items point at them),
// drawn as a graph; $limit (toInteger, so `:params {limit: 10}` works too) caps the paths. No CO_INTERACTED
// or other item-item hop, so "Connect result nodes" adds only the few links among the drawn items.
// Params: $a, $b, $limit.
MATCH (a:User {id: $a}), (b:User {id: $b})
CALL (a, b) {
  MATCH p = (a)-[r1:INTERACTED]->(i:Item)<-[r2:INTERACTED]-(b)
  WHERE r1.split = 'train' AND r2.split = 'train'
  WITH p, i
  ORDER BY i.id
  LIMIT 5
  RETURN p
  UNION
  MATCH (a)-[r1:INTERACTED]->(:Item)-[f1]->(x)<-[f2]-(:Item)<-[r2:INTERACTED]-(b)
  WHERE r1.split = 'train' AND r2.split = 'train' AND type(f1) = type(f2) AND NOT x:Item AND NOT x:User
    AND type(f1) <> 'SAME_AS'
  WITH DISTINCT x, COUNT { (x)<--() } AS degree
  ORDER BY degree, elementId(x)
  LIMIT 5
  MATCH p = (a)-[r1:INTERACTED]->(:Item)-[f1]->(x)<-[f2]-(:Item)<-[r2:INTERACTED]-(b)
  WHERE r1.split = 'train' AND r2.split = 'train' AND type(f1) = type(f2)
  WITH x, p
  ORDER BY elementId(x)
  WITH x, collect(p)[0] AS p
  RETURN p
}
RETURN p
LIMIT toInteger($limit);
