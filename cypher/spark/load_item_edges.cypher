// `load --engine spark`: the relationships of item metadata in one connector `query` write from one
// partition (concurrent batches would lock the same feature and item nodes), after spark/load_nodes.cypher.
// event: {type, src, dst, name, raw_id, dataset}; src is the item, and by type:
//   IN_CATEGORY | BY_BRAND | BY_AUTHOR | HAS_GENRE  name = the feature   (load/categories|brands|authors|genres)
//   HAS_ATTRIBUTE  name = the Attribute id, raw_id and dataset its props  (load/attributes.cypher)
//   ALSO_BOUGHT | ALSO_VIEWED | BOUGHT_TOGETHER  dst = the other item; dropped when it was not loaded
//                                                (load/also_bought|also_viewed|bought_together.cypher)
MATCH (i:Item {id: event.src})
OPTIONAL MATCH (b:Item {id: event.dst})
FOREACH (_ IN CASE WHEN event.type = 'IN_CATEGORY' THEN [1] ELSE [] END |
  MERGE (c:Category {name: event.name}) MERGE (i)-[:IN_CATEGORY]->(c))
FOREACH (_ IN CASE WHEN event.type = 'BY_BRAND' THEN [1] ELSE [] END |
  MERGE (f:Brand {name: event.name}) MERGE (i)-[:BY_BRAND]->(f))
FOREACH (_ IN CASE WHEN event.type = 'BY_AUTHOR' THEN [1] ELSE [] END |
  MERGE (p:Person {name: event.name}) MERGE (i)-[:BY_AUTHOR]->(p))
FOREACH (_ IN CASE WHEN event.type = 'HAS_GENRE' THEN [1] ELSE [] END |
  MERGE (g:Genre {name: event.name}) MERGE (i)-[:HAS_GENRE]->(g))
FOREACH (_ IN CASE WHEN event.type = 'HAS_ATTRIBUTE' THEN [1] ELSE [] END |
  MERGE (a:Attribute {id: event.name})
  SET a.raw_id = event.raw_id, a.dataset = event.dataset
  MERGE (i)-[:HAS_ATTRIBUTE]->(a))
FOREACH (_ IN CASE WHEN b IS NOT NULL AND event.type = 'ALSO_BOUGHT' THEN [1] ELSE [] END |
  MERGE (i)-[:ALSO_BOUGHT]->(b))
FOREACH (_ IN CASE WHEN b IS NOT NULL AND event.type = 'ALSO_VIEWED' THEN [1] ELSE [] END |
  MERGE (i)-[:ALSO_VIEWED]->(b))
FOREACH (_ IN CASE WHEN b IS NOT NULL AND event.type = 'BOUGHT_TOGETHER' THEN [1] ELSE [] END |
  MERGE (i)-[:BOUGHT_TOGETHER]->(b))
