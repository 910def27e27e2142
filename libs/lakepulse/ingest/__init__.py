"""Ingest: landing files -> bronze Delta tables, every record loaded, quarantined or counted as a duplicate.

- `sources`: the seven sources declared as data (format, fields and types, rules, keys, partitions);
- `parse`: raw lines -> fields as received, typed values, and the rules the declarations imply;
- `files`: landing files as metadata (listing, identity, headers, corrupt-file checks);
- `batch`: one batch classified and committed exactly once (the crash-safe commit protocol);
- `runner`: bounded batch or Structured Streaming, both through `batch`;
- `lake`: where the bookkeeping tables live and how they get their schema.
"""
