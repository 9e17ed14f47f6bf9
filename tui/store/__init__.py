"""Storage: conversations, message trees and Responses chains in SQLite."""
