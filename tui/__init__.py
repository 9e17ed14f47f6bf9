"""tui-chat: a fast full-screen terminal chat client for OpenAI-compatible providers."""

__version__ = "0.1.0"

import logging as _logging
import sys as _sys

# httpx imports its command-line client when click is installed (it is, for the MCP SDK's
# servers), and with it click, Pygments and rich's syntax module: 3 MB and 20 ms this app never
# uses. Marked absent, ``import httpx`` takes its own fallback (``httpx.main`` says to install
# ``httpx[cli]``). ``tests/test_import_hygiene.py`` checks that it still applies.
_sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

# A library's way: nothing is printed by the logging module's last-resort handler (it would
# write warnings onto the app's screen or into a command's stderr); the app and the commands
# say what matters themselves.
for _name in ("tui", "mcp"):
    _logging.getLogger(_name).addHandler(_logging.NullHandler())
