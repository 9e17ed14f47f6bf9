"""Screens: Textual only; they reach the services through workers."""
