// The configured dimension of the `item_embedding` vector index (no row when it does not exist).
SHOW INDEXES YIELD name, type, options WHERE name = 'item_embedding' AND type = 'VECTOR'
RETURN options.indexConfig['vector.dimensions'] AS dimensions;
