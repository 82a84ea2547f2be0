// Every interaction of a dataset with the stored split, in each user's seq order (raw ids for RecBole).
// Params: $dataset.
MATCH (u:User {dataset: $dataset})-[r:INTERACTED]->(i:Item)
RETURN u.raw_id AS user, i.raw_id AS item, r.rating AS rating, r.ts AS ts, r.seq AS seq, r.split AS split
ORDER BY u.id, r.seq;
