"""The engine: turns, chains, branches, titles, export; independent of the UI."""
