"""The app's garbage-collection settings, so the benchmarks measure what the app does."""

from tui.gc_tuning import apply_gc_policy

__all__ = ["apply_gc_policy"]
