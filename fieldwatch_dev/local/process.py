"""A long-lived service (broker, database) run as a private child process.

Exception tree (one root for the package):

    ServiceError    a service could not be found, prepared, started or
                    stopped; the message carries the tail of its log.

Each service runs in a session (and process group) of its own. `kill()`
SIGKILLs its whole process tree: PostgreSQL's backends start sessions of
their own, so the process group alone would miss them. On Linux each
service also gets SIGKILL when the thread that started it ends
(PR_SET_PDEATHSIG), so even a test run that is itself SIGKILLed leaves no
broker or database running.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from fieldwatch_dev.local.ports import free_port

log = logging.getLogger(__name__)

_POLL_INTERVAL = 0.05
_LOG_TAIL_LINES = 40
_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")
_PR_SET_PDEATHSIG = 1


class ServiceError(Exception):
    """A local service could not be found, prepared, started or stopped."""


def find_executable(name: str) -> str:
    """Return the path of a service binary, looking in PATH and the sbin folders.

    Daemons such as mosquitto live in /usr/sbin, which is not on a normal
    user's PATH.
    """
    search = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN_DIRS])
    found = shutil.which(name, path=search)
    if found is None:
        raise ServiceError(f"{name} is not installed; `make deps` installs it")
    return found


@dataclass(frozen=True)
class SystemUser:
    """A system account to run a service as, for services that refuse root."""

    name: str
    uid: int
    gid: int
    home: str

    @classmethod
    def lookup(cls, name: str) -> SystemUser:
        try:
            entry = pwd.getpwnam(name)
        except KeyError as exc:
            raise ServiceError(f"system user {name!r} does not exist") from exc
        return cls(name, entry.pw_uid, entry.pw_gid, entry.pw_dir)

    def environment(self) -> dict[str, str]:
        """The caller's environment with this user's identity variables."""
        return {**os.environ, "HOME": self.home, "USER": self.name, "LOGNAME": self.name}


def run_tool(
    command: Sequence[str], cwd: Path, as_user: SystemUser | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a short helper command (initdb, mosquitto_passwd) to completion.

    Runs as `as_user` when given, else as the caller. Raises ServiceError
    with the command's output if it cannot run or fails.
    """
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            user=None if as_user is None else as_user.uid,
            group=None if as_user is None else as_user.gid,
            extra_groups=None if as_user is None else [],
            env=None if as_user is None else as_user.environment(),
        )
    except OSError as exc:
        raise ServiceError(f"cannot run {command[0]}: {exc}") from exc
    if done.returncode != 0:
        raise ServiceError(
            f"{' '.join(command)} failed with code {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return done


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A pre-exec hook that makes the child get SIGKILL when its parent thread dies."""
    if sys.platform != "linux":
        return None
    libc = _libc()  # loaded in the parent: the forked child only calls into it
    parent = os.getpid()

    def hook() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return hook


def _process_tree(root: int) -> list[int]:
    """`root` and all its descendants, read from /proc (just `root` where there is no /proc)."""
    children: dict[int, list[int]] = {}
    try:
        entries = [entry.name for entry in os.scandir("/proc") if entry.name.isdigit()]
    except OSError:
        entries = []
    for name in entries:
        try:
            stat_line = Path("/proc", name, "stat").read_text()
        except OSError:
            continue  # it ended while we looked
        # The command name may hold spaces and parentheses; the fields after
        # its closing parenthesis are "state ppid pgrp ...".
        ppid = int(stat_line.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(name))
    tree = [root]
    for pid in tree:  # grows while iterating: breadth-first walk
        tree.extend(children.get(pid, []))
    return tree


def _is_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (a zombie has already let go of everything)."""
    try:
        stat_line = Path("/proc", str(pid), "stat").read_text()
    except OSError:
        return False
    return stat_line.rpartition(")")[2].split()[0] != "Z"


class ServiceProcess:
    """One service process in a folder of its own, on a port of its own.

    The constructor only stores configuration; `start()` writes config files,
    spawns the process and waits until it answers. The port is chosen at the
    first `start()` when none was given and kept afterwards, so `restart()`
    brings the service back on the same port with the same data folder.

    Subclasses set `name` and implement `_command()` and `_is_ready()`; they
    may override `_prepare()` (config files, data folder initialisation),
    `_after_ready()` (bootstrap such as creating a database),
    `_system_user()` and `stop_signal`.

    Call `start()` from a thread that outlives the service (normally the main
    thread): on Linux the service is killed when that thread ends.
    """

    name: ClassVar[str] = "service"
    #: The signal that asks the service to shut down cleanly.
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM

    def __init__(
        self,
        folder: str | os.PathLike[str],
        port: int | None = None,
        *,
        start_timeout: float = 30.0,
        stop_timeout: float = 15.0,
    ) -> None:
        self.folder = Path(folder).absolute()
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"<{type(self).__name__} {self.folder} port={self._port} {state}>"

    # -- what subclasses provide -------------------------------------------------

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _is_ready(self) -> bool:
        raise NotImplementedError

    def _prepare(self) -> None:
        """Write config files and initialise the data folder; runs before every spawn."""

    def _after_ready(self) -> None:
        """Bootstrap the running service; runs after every successful start."""

    def _system_user(self) -> SystemUser | None:
        """The account to run as, or None to run as the caller."""
        return None

    def _environment(self) -> dict[str, str] | None:
        """The service's environment, or None for this process's (ignored with a system user)."""
        return None

    # -- public API --------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the service listens on (chosen at the first start if not given)."""
        if self._port is None:
            raise ServiceError(f"{self.name} has no port yet: call start() first")
        return self._port

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def log_path(self) -> Path:
        """The file the service's stdout and stderr go to, kept across restarts."""
        return self.folder / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        """The main process id while started (also after it died, until stopped)."""
        return None if self._process is None else self._process.pid

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._exit_code() is None

    def start(self) -> None:
        """Spawn the service and return once it answers; raise ServiceError otherwise."""
        if self._process is not None:
            if self._exit_code() is None:
                raise ServiceError(f"{self.name} is already running (pid {self._process.pid})")
            self._finish()  # it died on its own: reap it before starting again
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._port is None:
            self._port = free_port()
        try:
            self._prepare()
        except OSError as exc:
            raise ServiceError(f"cannot prepare {self.name} in {self.folder}: {exc}") from exc
        command = self._command()
        user = self._system_user()
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log_file:
            try:
                self._process = subprocess.Popen(
                    command,
                    cwd=self.folder,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # own group, and a terminal's Ctrl-C goes to us only
                    preexec_fn=_die_with_parent_hook(),
                    user=None if user is None else user.uid,
                    group=None if user is None else user.gid,
                    extra_groups=None if user is None else [],
                    env=self._environment() if user is None else user.environment(),
                )
            except OSError as exc:
                raise ServiceError(f"cannot run {command[0]}: {exc}") from exc
        try:
            self._wait_until_ready()
            self._after_ready()
        except BaseException:
            self.kill()
            raise

    def stop(self) -> None:
        """Ask the service to shut down cleanly; SIGKILL it if it takes too long.

        Does nothing if it is not running.
        """
        if self._process is None:
            return
        if self._exit_code() is None:
            self._signal_leader(self.stop_signal)
            if not self._wait_for_exit(self.stop_timeout):
                log.warning(
                    "%s did not stop within %.0f s; killing it", self.name, self.stop_timeout
                )
                self._kill_tree()
        self._finish()

    def kill(self) -> None:
        """SIGKILL the service and all its processes: no shutdown, no flush, like a crash."""
        if self._process is None:
            return
        if self._exit_code() is None:
            self._kill_tree()
        self._finish()

    def restart(self) -> None:
        """Stop (if running) and start again on the same port with the same data folder."""
        self.stop()
        self.start()

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines the service logged since its latest start."""
        try:
            with self.log_path.open("rb") as log_file:
                log_file.seek(self._log_offset)
                text = log_file.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- process bookkeeping -----------------------------------------------------

    def _exit_code(self) -> int | None:
        """The exit code if the process has ended (negative: killed by that signal).

        Looks without reaping (WNOWAIT): until `_finish()` reaps the leader,
        its pid, which is also the process group id, cannot be reused, so
        signalling the group can never hit a stranger.
        """
        process = self._process
        if process is None or process.returncode is not None:
            return None if process is None else process.returncode
        result = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if result is None:
            return None
        return result.si_status if result.si_code == os.CLD_EXITED else -result.si_status

    def _wait_for_exit(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._exit_code() is None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_INTERVAL / 2)
        return True

    def _signal_leader(self, signum: signal.Signals) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._process.pid, signum)

    def _kill_tree(self) -> None:
        """SIGKILL the leader, its process group and every descendant, and wait for them.

        The process group is not enough: PostgreSQL's backends call setsid()
        and live in groups of their own. Freezing the leader first (SIGSTOP)
        keeps it from forking or reaping while its children are listed, so
        no listed pid can be reused by a stranger before it is killed.
        """
        if self._process is None:
            return
        self._signal_leader(signal.SIGSTOP)
        tree = _process_tree(self._process.pid)
        self._signal_group(signal.SIGKILL)
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._wait_for_exit(self.stop_timeout)
        deadline = time.monotonic() + self.stop_timeout
        while any(_is_alive(pid) for pid in tree) and time.monotonic() < deadline:
            time.sleep(_POLL_INTERVAL / 5)

    def _signal_group(self, signum: signal.Signals) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signum)

    def _finish(self) -> None:
        """Kill whatever is left in the process group, then reap the leader."""
        process = self._process
        if process is None:
            return
        self._signal_group(signal.SIGKILL)
        process.wait()
        self._process = None

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            code = self._exit_code()
            if code is not None:
                raise ServiceError(self._failure(f"exited with code {code} while starting"))
            if self._is_ready():
                return
            if time.monotonic() >= deadline:
                raise ServiceError(self._failure(f"was not ready after {self.start_timeout:.0f} s"))
            time.sleep(_POLL_INTERVAL)

    def _failure(self, what: str) -> str:
        return (
            f"{self.name} on port {self._port} {what}; last lines of {self.log_path}:\n"
            f"{self.log_tail() or '(nothing logged)'}"
        )
