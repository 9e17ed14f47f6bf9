"""Conversation widgets: they show domain types and report upward with messages."""
