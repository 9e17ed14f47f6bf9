"""tui-chat: a fast full-screen terminal chat client for OpenAI-compatible providers."""

__version__ = "0.1.0"

import logging as _logging

# A library's way: nothing is printed by the logging module's last-resort handler (it would
# write warnings onto the app's screen or into a command's stderr); the app and the commands
# say what matters themselves.
for _name in ("tui", "mcp"):
    _logging.getLogger(_name).addHandler(_logging.NullHandler())
