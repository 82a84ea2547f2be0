// True when the database holds no nodes.
MATCH (n) WITH n LIMIT 1 RETURN count(n) = 0 AS empty;
