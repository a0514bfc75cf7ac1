"""Coverage-guided fuzzers for hashsieve's input boundaries (fuzz/README.md)."""
