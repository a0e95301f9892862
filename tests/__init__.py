"""The test suite; it mirrors the package (attribution/, models/ and cli/)."""
