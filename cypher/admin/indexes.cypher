// Indexes (including vector indexes) and their state.
SHOW INDEXES YIELD name, type, labelsOrTypes, properties, state, options
RETURN name, type, labelsOrTypes, properties, state, options ORDER BY name;
