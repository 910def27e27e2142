"""Bronze (the `ingest` job): landing files -> bronze Delta tables, every record loaded, quarantined or
counted as a duplicate.

- `parse`: raw lines -> fields as received, typed values, and the rules the source contracts imply
  (the contracts themselves are `lakepulse.contracts.sources`);
- `files`: landing files as metadata (listing, identity, headers, corrupt-file checks);
- `plan`: a batch's identity (number, files, run, time), fixed when planned and reused by a retry;
- `classify`: every line of a batch loaded, quarantined or a duplicate (read-only, deterministic);
- `batch`: one batch committed exactly once (the crash-safe commit protocol);
- `runner`: bounded batch or Structured Streaming, both through `batch`.
"""
