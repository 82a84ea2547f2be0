// The English DBpedia abstract of a linked item: Item.abstract. $rows: [{item, abstract}]
UNWIND $rows AS row
MATCH (i:Item {id: row.item})
SET i.abstract = row.abstract;
