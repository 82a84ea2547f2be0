// Record the split strategy, its fingerprint (docs/protocol.md) and the counts once everything is written.
MATCH (d:Dataset {name: $dataset})
SET d.split = $split, d.fingerprint = $fingerprint, d.users = $users, d.items = $items,
    d.interactions = $interactions, d.train = $train, d.valid = $valid, d.test = $test,
    d.status = 'loaded', d.loaded_at = datetime()
RETURN d.name AS name;
