// Items whose DBpedia link changed or vanished since an earlier run (another threshold or endpoint):
// drop the old SAME_AS, the facts hung through it and the abstract, so nothing stale outlives its link.
// $rows: [{item, uri}] with uri null for an item now unmatched. Entities themselves stay (shared).
UNWIND $rows AS row
MATCH (i:Item {id: row.item})-[:SAME_AS]->(old:Entity)
WHERE row.uri IS NULL OR old.uri <> row.uri
WITH DISTINCT i
SET i.abstract = null
WITH i
MATCH (i)-[r:SAME_AS|DIRECTED_BY|STARRING|WRITTEN_BY|PRODUCED_BY|DISTRIBUTED_BY|CINEMATOGRAPHY_BY|AUTHORED_BY|DBPEDIA_GENRE|PUBLISHED_BY|IN_SERIES|HAS_SUBJECT]->(:Entity)
DELETE r
RETURN count(DISTINCT i) AS items;
