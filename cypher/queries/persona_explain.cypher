// Why the personas of users $a and $b are close: what they share in the train graph, along each
// metapath (shared items, shared features and DBpedia entities through their items, linked items),
// with how many paths each shared node carries. Params: $a, $b, $limit.
MATCH (a:User {id: $a}), (b:User {id: $b})
CALL (a, b) {
  MATCH (a)-[r1:INTERACTED]->(i:Item)<-[r2:INTERACTED]-(b)
  WHERE r1.split = 'train' AND r2.split = 'train'
  RETURN 'U-I-U' AS metapath, 'Item' AS kind, coalesce(i.title, i.id) AS shared, 1 AS paths
  UNION ALL
  MATCH (a)-[r1:INTERACTED]->(i:Item)-[f1]->(x)<-[f2]-(j:Item)<-[r2:INTERACTED]-(b)
  WHERE r1.split = 'train' AND r2.split = 'train' AND type(f1) = type(f2)
    AND NOT x:Item AND NOT x:User AND type(f1) <> 'SAME_AS'
  RETURN 'U-I-' + labels(x)[0] + '-I-U' AS metapath, type(f1) AS kind,
         coalesce(x.label, x.name, x.id, x.uri) AS shared, count(*) AS paths
  UNION ALL
  MATCH (a)-[r1:INTERACTED]->(i:Item)-[l:ALSO_BOUGHT|ALSO_VIEWED|BOUGHT_TOGETHER|CO_INTERACTED]-(j:Item)<-[r2:INTERACTED]-(b)
  WHERE r1.split = 'train' AND r2.split = 'train' AND i <> j
  RETURN 'U-I-I-U' AS metapath, type(l) AS kind, coalesce(i.title, i.id) + ' ~ ' + coalesce(j.title, j.id) AS shared,
         1 AS paths
}
RETURN metapath, kind, shared, sum(paths) AS paths
ORDER BY paths DESC, metapath, shared
LIMIT $limit;
