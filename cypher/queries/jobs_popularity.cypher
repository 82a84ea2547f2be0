// Interaction counts per item of a dataset (items without any count 0), for the most-popular model.
// Params: $dataset, $splits (INTERACTED.split values that count).
MATCH (i:Item {dataset: $dataset})
OPTIONAL MATCH (i)<-[r:INTERACTED]-(:User)
WHERE r.split IN $splits
RETURN i.id AS item, count(r) AS n
ORDER BY n DESC, item;
