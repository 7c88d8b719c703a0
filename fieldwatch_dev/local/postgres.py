"""A private PostgreSQL cluster: own data folder, own port, unix socket in its folder."""

from __future__ import annotations

import os
import shutil
import signal
import stat
from collections.abc import Mapping
from pathlib import Path

import psycopg
from psycopg import sql

from fieldwatch_dev.local.process import ServiceError, ServiceProcess, SystemUser, run_tool

_DEBIAN_CLUSTERS = Path("/usr/lib/postgresql")
_SUPERUSER = "postgres"


def postgres_bin_dir() -> Path:
    """The newest installed PostgreSQL's bin folder (Debian's layout, else PATH)."""
    candidates = [
        bin_dir
        for bin_dir in _DEBIAN_CLUSTERS.glob("*/bin")
        if (bin_dir / "postgres").exists() and (bin_dir / "initdb").exists()
    ]
    if candidates:
        return max(candidates, key=_version_key)
    initdb = shutil.which("initdb")
    if initdb is not None:
        return Path(initdb).resolve().parent
    raise ServiceError("PostgreSQL is not installed; `make deps` installs it")


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    version = bin_dir.parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


class PostgresServer(ServiceProcess):
    """A PostgreSQL cluster on 127.0.0.1 with trust auth and a `fieldwatch` database.

    With `roles` (name to password), those login roles are created and must give their
    password (scram-sha-256) over TCP, as a deployment's users do; the first one owns the
    `fieldwatch` database, as `POSTGRES_USER` does in the postgres image. The `postgres`
    superuser of `dsn` keeps trust auth, for the harness itself.

    `initdb` and `postgres` refuse to run as root, so as root both run as the
    `postgres` system user, which is given `folder`; that user must be able
    to enter every folder above it (pytest's own temp folders are 0700, a
    `tempfile.mkdtemp()` folder under /tmp works).

    The postmaster runs in the foreground as our child rather than through
    `pg_ctl start`, which would detach it: a child can be watched while it
    starts, and dies with us. `stop()` sends SIGINT, PostgreSQL's "fast"
    shutdown (what `pg_ctl stop -m fast` sends); `kill()` SIGKILLs the
    postmaster and its backends together, and the next start runs crash
    recovery from the WAL.
    """

    name = "postgres"
    stop_signal = signal.SIGINT
    database = "fieldwatch"

    def __init__(
        self,
        folder: str | os.PathLike[str],
        port: int | None = None,
        roles: Mapping[str, str] | None = None,
        *,
        start_timeout: float = 30.0,
        stop_timeout: float = 15.0,
    ) -> None:
        super().__init__(folder, port, start_timeout=start_timeout, stop_timeout=stop_timeout)
        self.roles: dict[str, str] = dict(roles or {})
        for role, password in self.roles.items():
            if not role or not password:
                raise ValueError(f"a role needs a name and a password, got {role!r}")

    @property
    def dsn(self) -> str:
        """Connection URL of the `fieldwatch` database, as the `postgres` superuser."""
        return self._dsn(self.database)

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    def _dsn(self, database: str) -> str:
        return f"postgresql://{_SUPERUSER}@{self.host}:{self.port}/{database}"

    def _system_user(self) -> SystemUser | None:
        return SystemUser.lookup("postgres") if os.geteuid() == 0 else None

    def _prepare(self) -> None:
        user = self._system_user()
        if user is not None:
            _check_can_enter(self.folder, user)
            os.chown(self.folder, user.uid, user.gid)
        self.folder.chmod(0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(user)
        if self.roles:
            self._write_hba(user)

    def _write_hba(self, user: SystemUser | None) -> None:
        # First match wins: the superuser is trusted (the harness), every other role
        # proves its password over TCP; unix-socket connections stay trusted.
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text(
            "# Written by fieldwatch_dev.local.postgres; rewritten at every start.\n"
            "local all all trust\n"
            f"host all {_SUPERUSER} 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        if user is not None:
            os.chown(hba, user.uid, user.gid)

    def _initdb(self, user: SystemUser | None) -> None:
        initdb = [
            str(postgres_bin_dir() / "initdb"),
            f"--pgdata={self.data_dir}",
            f"--username={_SUPERUSER}",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            # Skips only the final fsync of the new cluster: a process crash
            # (kill()) cannot lose it, only a machine crash could.
            "--no-sync",
        ]
        run_tool(initdb, self.folder, as_user=user)

    def _command(self) -> list[str]:
        return [
            str(postgres_bin_dir() / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-k",
            str(self.folder),
            "-c",
            f"listen_addresses={self.host}",
        ]

    def _is_ready(self) -> bool:
        try:
            with psycopg.connect(self._dsn("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def _after_ready(self) -> None:
        try:
            with psycopg.connect(self._dsn("postgres"), autocommit=True) as connection:
                found = connection.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
                ).fetchone()
                if found is None:
                    connection.execute(
                        sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database))
                    )
                for role, password in self.roles.items():
                    _ensure_role(connection, role, password)
                if self.roles:
                    owner = next(iter(self.roles))
                    connection.execute(
                        sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                            sql.Identifier(self.database), sql.Identifier(owner)
                        )
                    )
        except psycopg.Error as exc:
            raise ServiceError(f"cannot prepare database {self.database!r}: {exc}") from exc

    def role_dsn(self, role: str) -> str:
        """Connection URL of the `fieldwatch` database as `role`, password included."""
        password = self.roles[role]
        return f"postgresql://{role}:{password}@{self.host}:{self.port}/{self.database}"


def _ensure_role(
    connection: psycopg.Connection[tuple[object, ...]], role: str, password: str
) -> None:
    """Create the login role, or set its password if it exists (a restart)."""
    exists = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    verb = "ALTER" if exists else "CREATE"
    # Utility statements take no bind parameters: the password is quoted client-side.
    connection.execute(
        sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(password)
        )
    )


def _check_can_enter(folder: Path, user: SystemUser) -> None:
    """Fail early and clearly if `user` cannot reach `folder` through its parents."""
    for parent in folder.parents:
        mode = parent.stat()
        if mode.st_uid == user.uid:
            allowed = mode.st_mode & stat.S_IXUSR
        elif mode.st_gid == user.gid:
            allowed = mode.st_mode & stat.S_IXGRP
        else:
            allowed = mode.st_mode & stat.S_IXOTH
        if not allowed:
            raise ServiceError(
                f"PostgreSQL runs as the {user.name!r} user (it refuses root), who cannot "
                f"enter {parent} (mode {stat.filemode(mode.st_mode)}); put {folder} somewhere "
                "that user can reach, such as a tempfile.mkdtemp() folder"
            )
