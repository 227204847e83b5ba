"""aioresponses fixtures for unit tests of the client (filled in with the client)."""
