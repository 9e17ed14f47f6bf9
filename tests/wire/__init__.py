"""Tests of the wire: adapters, errors, retries, the HTTP client and the loopback server."""
