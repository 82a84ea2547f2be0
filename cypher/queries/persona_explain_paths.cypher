// Neo4j Browser view of why users $a and $b are close: the paths through shared items and through the
// features / DBpedia entities of their items (draw them as a graph). Params: $a, $b, $limit.
MATCH (a:User {id: $a}), (b:User {id: $b})
CALL (a, b) {
  MATCH p = (a)-[r1:INTERACTED]->(:Item)<-[r2:INTERACTED]-(b)
  WHERE r1.split = 'train' AND r2.split = 'train'
  RETURN p
  UNION
  MATCH p = (a)-[r1:INTERACTED]->(:Item)-[f1]->(x)<-[f2]-(:Item)<-[r2:INTERACTED]-(b)
  WHERE r1.split = 'train' AND r2.split = 'train' AND type(f1) = type(f2) AND NOT x:Item AND NOT x:User
    AND type(f1) <> 'SAME_AS'
  RETURN p
}
RETURN p
LIMIT $limit;
