// `load --engine spark`: users, items seen in interactions, feature and attribute nodes in one connector
// `query` write (the connector runs it as `UNWIND $events AS event <this>` per batch), after the metadata
// items (spark/load_items.cypher) and before any relationship. Every node is one row of the DataFrame, so
// partitions written in parallel never touch the same node. event.kind names the label:
//   User      {id, raw_id, dataset}             as load/users.cypher
//   Item      {id, raw_id, dataset, item_kind}  as load/interaction_items.cypher: a metadata kind wins
//   Attribute {id, raw_id, dataset}             the node of load/attributes.cypher
//   Category | Brand | Person | Genre {name}    the nodes of load/categories|brands|authors|genres.cypher
FOREACH (_ IN CASE WHEN event.kind = 'User' THEN [1] ELSE [] END |
  MERGE (u:User {id: event.id})
  SET u.raw_id = event.raw_id, u.dataset = event.dataset)
FOREACH (_ IN CASE WHEN event.kind = 'Item' THEN [1] ELSE [] END |
  MERGE (i:Item {id: event.id})
  SET i.raw_id = event.raw_id, i.dataset = event.dataset, i.kind = coalesce(i.kind, event.item_kind))
FOREACH (_ IN CASE WHEN event.kind = 'Attribute' THEN [1] ELSE [] END |
  MERGE (a:Attribute {id: event.id})
  SET a.raw_id = event.raw_id, a.dataset = event.dataset)
FOREACH (_ IN CASE WHEN event.kind = 'Category' THEN [1] ELSE [] END | MERGE (:Category {name: event.name}))
FOREACH (_ IN CASE WHEN event.kind = 'Brand' THEN [1] ELSE [] END | MERGE (:Brand {name: event.name}))
FOREACH (_ IN CASE WHEN event.kind = 'Person' THEN [1] ELSE [] END | MERGE (:Person {name: event.name}))
FOREACH (_ IN CASE WHEN event.kind = 'Genre' THEN [1] ELSE [] END | MERGE (:Genre {name: event.name}))
