"""Local-only tooling: the embedded stack, the local API server, tokens, demo data. Never shipped to Lambda."""
