"""The offline demo model: an httpx transport that answers as an OpenAI-compatible server does.

- ``transport``: ``DemoTransport`` and ``demo_mounts()`` (mount it on the shared client), the
  endpoints, models, tools and chaining it serves;
- ``request``: reading and validating a request of either API as OpenAI does;
- ``text``: what the demo says, its tokens and the ``/bench N`` answers;
- ``wire``: the bytes of either API's streamed and whole answers;
- ``errors``: OpenAI's error bodies.
"""

from tui.providers.demo.transport import DemoTransport, demo_mounts

__all__ = ["DemoTransport", "demo_mounts"]
