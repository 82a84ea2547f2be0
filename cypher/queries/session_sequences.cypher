// Every interaction of one dataset, in each user's time order (seq), with its stored split.
// Used by personarec.session.data.load_sequences.
MATCH (u:User {dataset: $dataset})-[r:INTERACTED]->(i:Item)
RETURN u.id AS user, i.id AS item, r.seq AS seq, r.split AS split, r.ts AS ts
ORDER BY user, seq
