// personas 4: the $k users with the personas closest to $user's, with readable scores (table)
// cosine: the true cosine of the two personas, 3 decimals (the index score is (1 + cosine) / 2, so it
// reads ≈ 0.99 for everyone). z: how many standard deviations closer than the average user of the
// dataset (0 = a typical user), the readable contrast. shared: train items both took.
MATCH (u:User {id: $user})
WHERE u.persona IS NOT NULL
CALL (u) {
  MATCH (o:User)
  WHERE o.dataset = u.dataset AND o <> u AND o.persona IS NOT NULL
  WITH 2 * vector.similarity.cosine(u.persona, o.persona) - 1 AS c
  RETURN avg(c) AS mean, stDevP(c) AS sd
}
CALL db.index.vector.queryNodes('user_persona', toInteger($k) * 2 + 1, u.persona) YIELD node, score
WITH u, mean, sd, node, 2 * score - 1 AS cosine
WHERE node <> u AND node.dataset = u.dataset
ORDER BY cosine DESC, node.id
LIMIT toInteger($k)
WITH u, mean, sd, collect({n: node, cosine: cosine}) AS hits
UNWIND range(1, size(hits)) AS rank
WITH u, mean, sd, rank, hits[rank - 1].n AS n, hits[rank - 1].cosine AS cosine
RETURN rank, n.id AS user, round(cosine, 3) AS cosine,
       CASE WHEN sd > 0 THEN round((cosine - mean) / sd, 1) END AS z,
       size(COLLECT { MATCH (u)-[a:INTERACTED]->(i:Item)<-[b:INTERACTED]-(n)
                      WHERE a.split = 'train' AND b.split = 'train' RETURN DISTINCT i }) AS shared
ORDER BY rank;
