// `load --engine spark`, item metadata (the connector's `query` write: it runs this as
// `UNWIND $events AS event <this>` per batch). event: {id, raw_id, dataset, kind, title, year, description}.
// Same writes as load/items.cypher: a missing field never erases a value already there (coalesce).
// Node write: each id occurs once in the DataFrame, so partitions written in parallel never touch one node.
MERGE (i:Item {id: event.id})
SET i.raw_id = event.raw_id, i.dataset = event.dataset, i.kind = event.kind,
    i.title = coalesce(event.title, i.title), i.year = coalesce(event.year, i.year),
    i.description = coalesce(event.description, i.description)
