"""Connecting to Temporal: the client, the bundled server binaries, search attributes."""
