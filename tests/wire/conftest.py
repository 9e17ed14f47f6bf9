"""Fixtures for the wire tests, from ``tests.support.fixtures``."""

from __future__ import annotations

from tests.support.fixtures import http_client, loopback

__all__ = ["http_client", "loopback"]
