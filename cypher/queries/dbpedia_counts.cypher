// What the DBpedia enrichment left in the graph for $dataset (null = all): links and facts.
MATCH (i:Item)
WHERE $dataset IS NULL OR i.dataset = $dataset
OPTIONAL MATCH (i)-[s:SAME_AS]->(:Entity)
WITH i, count(s) AS links
OPTIONAL MATCH (i)-[f:DIRECTED_BY|STARRING|WRITTEN_BY|PRODUCED_BY|DISTRIBUTED_BY|CINEMATOGRAPHY_BY|AUTHORED_BY|DBPEDIA_GENRE|PUBLISHED_BY|IN_SERIES|HAS_SUBJECT]->(:Entity)
RETURN count(DISTINCT CASE WHEN links > 0 THEN i END) AS linked_items, count(f) AS facts,
       count(DISTINCT CASE WHEN i.abstract IS NOT NULL THEN i END) AS abstracts;
