"""Hash algorithms: cryptographic digests in one read, PDQ for images."""
