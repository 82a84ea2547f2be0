// Server version and edition (used by `personarec neo4j status`).
CALL dbms.components() YIELD name, versions, edition
RETURN name, versions[0] AS version, edition;
