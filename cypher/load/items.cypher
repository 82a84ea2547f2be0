// Items from metadata (text fields). Rows: {id, raw_id, kind, title, year, description}. Param: $dataset.
// A missing field never erases a value already there (coalesce), so partial sources can be combined.
UNWIND $rows AS row
MERGE (i:Item {id: row.id})
SET i.raw_id = row.raw_id, i.dataset = $dataset, i.kind = row.kind,
    i.title = coalesce(row.title, i.title), i.year = coalesce(row.year, i.year),
    i.description = coalesce(row.description, i.description);
