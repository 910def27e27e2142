"""What the data looks like at every boundary: the sources as declared data (formats, fields, rules,
keys), every table's StructType, and the data-quality expectation model the rules are written in."""
