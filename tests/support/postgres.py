"""A real PostgreSQL server for the tests, started from the server binaries on the machine.

``initdb`` builds a cluster in a temporary folder, ``pg_ctl`` starts it on a free loopback port
(and a socket in that folder), and it is stopped and deleted when the test run ends. PostgreSQL
refuses to run as root, so under root both run as the ``postgres`` user (``runuser``), which
must be able to write the folder. Each test gets a database of its own (``create_database``).

Written here rather than taken from pytest-postgresql: that plugin runs ``initdb`` as the
current user (so not as root, which CI is) and drives the server through psycopg, a second
driver the project does not otherwise need.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SUPERUSER = "tui"
"""The cluster's superuser (trust authentication on loopback and the socket)."""
PASSWORD = "not-a-secret-pg-password"
"""The password of ``PASSWORD_USER``, for the tests of where a password comes from."""
PASSWORD_USER = "tui_password_user"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries here (the reason is the message)."""


def find_bindir() -> Path:
    """The folder with ``initdb``, ``pg_ctl`` and ``postgres``: ``TUI_CHAT_PG_BINDIR``,
    ``pg_config --bindir``, Debian's ``/usr/lib/postgresql/N/bin`` (newest), or ``PATH``."""
    candidates: list[Path] = []
    if os.environ.get("TUI_CHAT_PG_BINDIR"):
        candidates.append(Path(os.environ["TUI_CHAT_PG_BINDIR"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: [int(x) for x in Path(p).parent.name.split(".") if x.isdigit()],
    )
    candidates.extend(Path(p) for p in reversed(debian))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found: set TUI_CHAT_PG_BINDIR, "
        "or install them (Debian: apt-get install postgresql)"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """One throw-away cluster: ``start()``, ``create_database()``, ``stop()``."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="tui-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self._names = itertools.count(1)
        self._run_as: list[str] = []
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root, and there is no postgres user to run the server as"
                ) from None
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self._run_as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [*self._run_as, *args], capture_output=True, text=True, check=False, cwd=self.folder
        )
        if done.returncode != 0:
            raise PostgresUnavailable(f"{Path(args[0]).name} failed: {done.stderr.strip()}")

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        self.resume()
        self.sql(
            f"CREATE ROLE {PASSWORD_USER} LOGIN SUPERUSER PASSWORD '{PASSWORD}'",
            database="postgres",
        )
        # The password user must give its password, over TCP: md5/scram instead of trust.
        hba = self.data / "pg_hba.conf"
        lines = hba.read_text().splitlines()
        rule = f"host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256"
        hba.write_text("\n".join([rule, *lines]) + "\n")
        self.sql("SELECT pg_reload_conf()", database="postgres")

    def resume(self) -> None:
        """Start the server (again, after ``pause``) on the same port and folder."""
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def pause(self) -> None:
        """Stop the server, keeping its data, as when it restarts or the network goes."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def sql(self, statement: str, *, database: str = "postgres") -> str:
        """Run one statement with ``psql`` over the socket; its output."""
        psql = self.bindir / "psql"
        if not psql.is_file():
            psql = Path(shutil.which("psql") or "psql")
        done = subprocess.run(
            [
                str(psql),
                "-h",
                str(self.folder),
                "-p",
                str(self.port),
                "-U",
                SUPERUSER,
                "-d",
                database,
                "-X",
                "-q",
                "-t",
                "-A",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                statement,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql: {done.stderr.strip()}")
        return done.stdout.strip()

    def create_database(self, prefix: str = "t") -> str:
        """A new, empty database; its SQLAlchemy URL."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        self.sql(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def url(self, database: str, *, user: str = SUPERUSER, password: str | None = None) -> str:
        auth = user if password is None else f"{user}:{password}"
        return f"postgresql+asyncpg://{auth}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run(
                [
                    *self._run_as,
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                capture_output=True,
                check=False,
                cwd=self.folder,
            )
        shutil.rmtree(self.folder, ignore_errors=True)


def start_server() -> PostgresServer:
    """A started server, or ``PostgresUnavailable`` saying why not."""
    server = PostgresServer(find_bindir())
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    deadline = time.monotonic() + 30
    while True:  # pg_ctl -w waited for the socket; wait for TCP too
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1):
                return server
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise PostgresUnavailable("the test server did not accept connections") from None
            time.sleep(0.05)
