"""Test support: the loopback OpenAI-compatible server and shared fixtures."""
