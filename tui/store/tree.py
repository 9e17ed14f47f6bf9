"""Tree walks as single recursive queries, and who is streaming into a row."""

from __future__ import annotations

import os
import socket
from typing import Any

from sqlalchemy import ColumnElement, Select, literal, select

from tui.store.convert import CONVERSATIONS, MESSAGE_COLUMNS, MESSAGES

MAX_TREE_DEPTH = 1_000_000
"""Bound on tree walks, so a damaged parent loop cannot recurse forever."""

C = CONVERSATIONS.c
M = MESSAGES.c


def path_to_root(conversation_id: int, leaf_id: int | None, last: int | None = None) -> Select[Any]:
    """Whole message rows from the root (or ``last`` steps up) down to ``leaf_id``.

    ``leaf_id`` None means the active leaf. One recursive query walking up by primary key
    whatever the depth; each row is read once, carried through the walk, and comes out in the
    column order of ``MESSAGE_COLUMNS``.
    """
    depth_limit = MAX_TREE_DEPTH if last is None else last - 1
    leaf: ColumnElement[Any] | int = (
        leaf_id
        if leaf_id is not None
        else select(C.active_leaf_id).where(C.id == conversation_id).scalar_subquery()
    )
    path = (
        select(*(M[name] for name in MESSAGE_COLUMNS), literal(0).label("depth"))
        .where(M.id == leaf, M.conversation_id == conversation_id)
        .cte("path", recursive=True)
    )
    below = path.alias("below")
    up = MESSAGES.alias("up")
    path = path.union_all(
        select(*(up.c[name] for name in MESSAGE_COLUMNS), below.c.depth + 1)
        .select_from(up.join(below, up.c.id == below.c.parent_id))
        .where(below.c.depth < depth_limit)
    )
    return select(*(path.c[name] for name in MESSAGE_COLUMNS)).order_by(path.c.depth.desc())


def newest_descendant(message_id: int) -> Select[Any]:
    """The end of the chain that follows the newest reply at each step below ``message_id``."""
    down = select(M.id, literal(0).label("depth")).where(M.id == message_id)
    chain = down.cte("chain", recursive=True)
    above = chain.alias("above")
    child = MESSAGES.alias("child")
    newest_reply = (
        select(child.c.id)
        .where(child.c.parent_id == above.c.id)
        .order_by(child.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    step = MESSAGES.alias("step")
    chain = chain.union_all(
        select(step.c.id, above.c.depth + 1)
        .select_from(above.join(step, step.c.id == newest_reply))
        .where(above.c.depth < MAX_TREE_DEPTH)
    )
    return select(chain.c.id).order_by(chain.c.depth.desc()).limit(1)


def writer_tag() -> str:
    """``host:pid`` of this process, recorded on the rows it streams into."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":
        # os.kill would terminate the process on Windows; without a safe probe, assume it ended.
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphaned(writer: str | None, host: str, *, seen_elsewhere: bool = False) -> bool:
    """Whether a streaming row's writer is gone, so the row can be marked interrupted.

    On this host the writer's process is asked. A row written on another host cannot be checked
    there: it counts as orphaned unless that writer was ``seen_elsewhere`` lately (a shared
    server records when each copy was last seen, ``tui.store.clients``).
    """
    if not writer:
        return True
    writer_host, _, pid_text = writer.rpartition(":")
    if writer_host != host or not pid_text.isdigit():
        return not seen_elsewhere
    return not _process_alive(int(pid_text))
