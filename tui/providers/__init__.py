"""The wire: OpenAI-compatible providers over httpx, turned into typed stream events."""
