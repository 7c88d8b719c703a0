"""The Dockerfile's build, reproduced without Docker: the same files, the same uv commands.

``build_image`` reads the Dockerfile instruction by instruction. ``COPY`` copies exactly what
it names (less what .dockerignore excludes) into a folder that stands for the image's
WORKDIR; ``RUN uv sync ...`` runs there, with the Dockerfile's ENV and the uv release it
installs, into a virtual environment in a temporary folder (UV_PROJECT_ENVIRONMENT points
there instead of /opt/venv). A file the Dockerfile forgets is missing from that folder,
and the build or the service that needs it fails. A RUN this module cannot reproduce is
an error, so a new build step cannot go unnoticed.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

# What a python:3.11-slim image has on its PATH before the Dockerfile's ENV.
IMAGE_BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# RUN steps that set up the image's account and folders: nothing to reproduce in a test,
# where the services run as the test's user in temporary folders.
IMAGE_ONLY_RUN = re.compile(r"^useradd\b")
UV_INSTALL = re.compile(r"^pip install (?:--no-cache-dir )?uv==(?P<version>[\w.]+)$")


class BuildError(Exception):
    """The Dockerfile could not be reproduced, or one of its steps failed."""


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


@dataclass
class Image:
    """What the build left: the WORKDIR copy, the venv, and the runtime configuration."""

    app: Path  # stands for WORKDIR (/app)
    venv: Path  # stands for UV_PROJECT_ENVIRONMENT (/opt/venv)
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)  # every ENV, in container paths
    entrypoint: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    python_version: str = ""
    copied: list[str] = field(default_factory=list)  # COPY sources, as written

    @property
    def venv_container_path(self) -> str:
        return self.env["UV_PROJECT_ENVIRONMENT"]


def instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    found: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        keyword, _, arguments = whole.partition(" ")
        found.append(Instruction(keyword.upper(), arguments.strip()))
    if pending:
        raise BuildError("the Dockerfile ends inside a continued line")
    return found


def _words(arguments: str) -> list[str]:
    """An instruction's arguments: the JSON form or the shell-words form."""
    if arguments.startswith("["):
        words = json.loads(arguments)
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise BuildError(f"not a JSON list of strings: {arguments}")
        return words
    return shlex.split(arguments)


def _expand(value: str, env: dict[str, str]) -> str:
    """$NAME and ${NAME} from the environment built so far, as Docker expands ENV."""
    return re.sub(r"\$(?:\{(\w+)\}|(\w+))", lambda m: env.get(m.group(1) or m.group(2), ""), value)


def _env_pairs(arguments: str) -> list[tuple[str, str]]:
    words = shlex.split(arguments)
    if words and "=" not in words[0]:  # the legacy form: ENV NAME value
        return [(words[0], " ".join(words[1:]))]
    pairs = []
    for word in words:
        name, sep, value = word.partition("=")
        if not sep:
            raise BuildError(f"ENV {arguments}: {word!r} is not NAME=value")
        pairs.append((name, value))
    return pairs


def _ignore_patterns(root: Path) -> list[str]:
    path = root / ".dockerignore"
    if not path.exists():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    patterns = [line for line in lines if line and not line.startswith("#")]
    for pattern in patterns:
        if pattern.startswith("!"):
            raise BuildError(f".dockerignore: exceptions ({pattern}) are not reproduced here")
    return patterns


def _is_ignored(relative: str, patterns: list[str]) -> bool:
    """Docker's matching for the patterns this repository uses: paths and **/NAME."""
    parts = relative.split("/")
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatchcase(part, pattern[3:]) for part in parts):
                return True
        elif fnmatch.fnmatchcase(relative, pattern.rstrip("/")) or any(
            fnmatch.fnmatchcase("/".join(parts[: n + 1]), pattern.rstrip("/"))
            for n in range(len(parts))
        ):
            return True
    return False


def _copy(root: Path, source: str, target: Path, patterns: list[str]) -> None:
    origin = (root / source).resolve()
    if root.resolve() not in (origin, *origin.parents):
        raise BuildError(f"COPY {source}: outside the build context")
    if not origin.exists():
        raise BuildError(f"COPY {source}: not in the build context")
    relative_origin = origin.relative_to(root.resolve()).as_posix()
    if _is_ignored(relative_origin, patterns):
        raise BuildError(f"COPY {source}: excluded by .dockerignore")
    if origin.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, target)
        return

    def ignore(folder: str, names: list[str]) -> list[str]:
        base = Path(folder).relative_to(root.resolve()).as_posix()
        return [n for n in names if _is_ignored(n if base == "." else f"{base}/{n}", patterns)]

    shutil.copytree(origin, target, ignore=ignore, dirs_exist_ok=True)


def _container_to_host(path: str, image: Image) -> Path:
    """A container path under WORKDIR, in the folder that stands for it."""
    full = Path(image.workdir) / path
    relative = os.path.relpath(full, image.workdir)
    if relative.startswith(".."):
        raise BuildError(f"{path}: outside WORKDIR {image.workdir}, not reproduced here")
    return image.app / relative


def _run_uv(command: str, image: Image, uv: Path, build_env: dict[str, str]) -> None:
    env = {**build_env, **image.env}
    env["UV_PROJECT_ENVIRONMENT"] = str(image.venv)
    env["PATH"] = f"{uv.parent}:{IMAGE_BASE_PATH}"
    # The image's python is the base image's; here the interpreter running the tests,
    # which the check of FROM below holds to the same minor version.
    env["UV_PYTHON"] = sys._base_executable
    env["UV_PYTHON_DOWNLOADS"] = "never"
    done = subprocess.run(
        ["/bin/sh", "-c", command],
        cwd=image.app,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise BuildError(f"RUN {command} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def build_image(root: Path, folder: Path, uv: Path, build_env: dict[str, str]) -> Image:
    """Reproduce the Dockerfile of ``root`` in ``folder``; ``uv`` is the uv release it installs.

    ``build_env`` carries what uv needs from the test's machine (HOME for its cache,
    certificates, proxies); the Dockerfile's ENV comes on top.
    """
    image = Image(app=folder / "app", venv=folder / "venv")
    image.app.mkdir(parents=True)
    patterns = _ignore_patterns(root)
    uv_version = subprocess.run(
        [str(uv), "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    expanding = {"PATH": IMAGE_BASE_PATH}
    for instruction in instructions((root / "Dockerfile").read_text(encoding="utf-8")):
        keyword, arguments = instruction.keyword, instruction.arguments
        if keyword == "FROM":
            match = re.fullmatch(r"python:(\d+\.\d+)(\.\d+)?-slim(-\w+)?", arguments)
            if match is None:
                raise BuildError(f"FROM {arguments}: not a python slim image")
            image.python_version = match[1]
            here = f"{sys.version_info.major}.{sys.version_info.minor}"
            if image.python_version != here:
                raise BuildError(f"FROM {arguments}: the tests run on Python {here}")
        elif keyword == "ENV":
            for name, value in _env_pairs(arguments):
                image.env[name] = expanding[name] = _expand(value, expanding)
        elif keyword == "WORKDIR":
            image.workdir = arguments
        elif keyword == "COPY":
            words = _words(arguments)
            if any(word.startswith("--") for word in words):
                raise BuildError(f"COPY {arguments}: flags are not reproduced here")
            *sources, destination = words
            for source in sources:
                target = _container_to_host(destination, image)
                if destination.endswith("/") or len(sources) > 1:
                    target = target / Path(source).name
                _copy(root, source, target, patterns)
                image.copied.append(source)
        elif keyword == "RUN":
            command = " ".join(arguments.split())
            installs_uv = UV_INSTALL.match(command)
            if installs_uv is not None:
                if installs_uv["version"] != uv_version:
                    raise BuildError(
                        f"the image installs uv {installs_uv['version']}, not {uv_version}"
                    )
            elif command.startswith("uv sync"):
                _run_uv(command, image, uv, build_env)
            elif not IMAGE_ONLY_RUN.match(command):
                raise BuildError(f"RUN {command}: this test does not know how to reproduce it")
        elif keyword == "ENTRYPOINT":
            image.entrypoint = _words(arguments)
        elif keyword == "VOLUME":
            image.volumes.extend(_words(arguments))
        elif keyword not in ("USER", "CMD", "LABEL", "EXPOSE"):
            raise BuildError(f"{keyword} {arguments}: not reproduced here")
    return image
