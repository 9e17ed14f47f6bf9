"""The exit codes of ``tui-chat`` and its subcommands."""

EXIT_OK = 0
EXIT_FAILED = 1
"""The provider or the store failed."""
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE, what a Unix tool killed by a closed pipe reports."""
