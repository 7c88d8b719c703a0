"""The Dockerfile's build, reproduced without Docker: the same files, the same commands.

``build_image`` reads the Dockerfile instruction by instruction, one stage per ``FROM``.
Each stage has a folder that stands for its WORKDIR. ``COPY`` copies exactly what it names
(less what .dockerignore excludes) into that folder; ``COPY --from=STAGE`` copies from an
earlier stage's folder. In the final, python stage ``RUN uv sync ...`` runs there, with
the Dockerfile's ENV and the uv release it installs, into a virtual environment in a
temporary folder (UV_PROJECT_ENVIRONMENT points there instead of /opt/venv). A node stage
runs its ``npm ci ...`` and ``node SCRIPT`` with this machine's node of the same major
release, with npm's cache. A file the Dockerfile forgets is missing from a folder, and the
build or the service that needs it fails. A base image, a flag or a RUN this module cannot
reproduce is an error, so a new build step cannot go unnoticed.
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

# What a python:3.11-slim (and a node:20) image has on its PATH before the Dockerfile's ENV.
IMAGE_BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# RUN steps that set up the image's account and folders: nothing to reproduce in a test,
# where the services run as the test's user in temporary folders.
IMAGE_ONLY_RUN = re.compile(r"^useradd\b")
UV_INSTALL = re.compile(r"^pip install (?:--no-cache-dir )?uv==(?P<version>[\w.]+)$")
FROM = re.compile(r"(?P<base>\S+)(?:\s+AS\s+(?P<name>[A-Za-z][\w.-]*))?", re.IGNORECASE)
PYTHON_BASE = re.compile(r"python:(?P<version>\d+\.\d+)(\.\d+)?-slim(-\w+)?")
NODE_BASE = re.compile(r"node:(?P<major>\d+)(\.\d+){0,2}(-[\w.-]+)?")
# A node stage's RUN steps: an install from the lock file (flags only, no package named),
# and a script of the build context run by node.
NPM_CI = re.compile(r"^npm ci(?: --[\w-]+(?:=[\w.-]+)?)*$")
NODE_SCRIPT = re.compile(r"^node (?P<script>[\w./-]+\.m?js)$")


class BuildError(Exception):
    """The Dockerfile could not be reproduced, or one of its steps failed."""


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


@dataclass(kw_only=True)
class Stage:
    """One ``FROM``: its folder standing for WORKDIR, and its ENV."""

    name: str  # AS name, or the stage's index
    base: str  # the FROM image
    app: Path  # stands for WORKDIR
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)  # every ENV, in container paths
    copied: list[str] = field(default_factory=list)  # COPY sources, as written

    def expanding(self) -> dict[str, str]:
        """What ``$NAME`` expands to in this stage: the base image's PATH, then its ENV."""
        return {"PATH": IMAGE_BASE_PATH, **self.env}


@dataclass(kw_only=True)
class Image(Stage):
    """What the build left: the final stage's WORKDIR copy, the venv, the runtime config."""

    venv: Path  # stands for UV_PROJECT_ENVIRONMENT (/opt/venv)
    entrypoint: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    python_version: str = ""
    stages: dict[str, Stage] = field(default_factory=dict)  # the earlier stages, by name

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


def excluded_from_context(root: Path, relative: str) -> bool:
    """Whether .dockerignore keeps ``relative`` (a path of the build context) out of it."""
    return _is_ignored(relative, _ignore_patterns(root))


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


def _container_to_host(path: str, stage: Stage) -> Path:
    """A container path under WORKDIR, in the folder that stands for it."""
    full = Path(stage.workdir) / path
    relative = os.path.relpath(full, stage.workdir)
    if relative.startswith(".."):
        raise BuildError(f"{path}: outside WORKDIR {stage.workdir}, not reproduced here")
    return stage.app / relative


def _copy_from(stage: Stage, source: str, target: Path) -> None:
    """``COPY --from``: ``source`` is a path of that stage, from its root, as in Docker."""
    origin = _container_to_host(os.path.normpath(Path("/") / source), stage)
    if not origin.exists():
        raise BuildError(f"COPY --from={stage.name} {source}: the stage has no such path")
    if origin.is_dir():
        shutil.copytree(origin, target, dirs_exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, target)


def _copy_instruction(
    arguments: str, stage: Stage, earlier: dict[str, Stage], root: Path, patterns: list[str]
) -> None:
    words = _words(arguments)
    flags = [word for word in words if word.startswith("--")]
    paths = [word for word in words if not word.startswith("--")]
    if len(paths) < 2:
        raise BuildError(f"COPY {arguments}: needs a source and a destination")
    *sources, destination = paths
    origin: Stage | None = None
    for flag in flags:
        name, sep, value = flag.partition("=")
        if name != "--from" or not sep:
            raise BuildError(f"COPY {arguments}: {flag} is not reproduced here")
        if value.lower() not in earlier:
            raise BuildError(
                f"COPY {arguments}: no earlier stage {value!r} (images are not pulled)"
            )
        origin = earlier[value.lower()]
    for source in sources:
        target = _container_to_host(destination, stage)
        if destination.endswith("/") or len(sources) > 1:
            target = target / Path(source).name
        if origin is None:
            _copy(root, source, target, patterns)
            stage.copied.append(source)
        else:
            _copy_from(origin, source, target)
            stage.copied.append(f"--from={origin.name} {source}")


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


def _local_node(major: str) -> tuple[Path, Path]:
    """This machine's node and npm, if node is of the release the stage's image is."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise BuildError(f"FROM node:{major}: no node and npm here; `make deps` installs them")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    here = version.stdout.strip().lstrip("v").split(".")[0]
    if here != major:
        raise BuildError(f"FROM node:{major}...: this machine has node {here}")
    return Path(node), Path(npm)


def _run_node(command: str, stage: Stage, tools: tuple[Path, Path], env: dict[str, str]) -> None:
    """A node stage's RUN: ``npm ci ...`` from the copied lock file, or ``node SCRIPT``."""
    script = NODE_SCRIPT.match(command)
    if script is not None:
        if not (stage.app / script["script"]).is_file():
            raise BuildError(f"RUN {command}: {script['script']} was not copied into the stage")
    elif NPM_CI.match(command) is None:
        raise BuildError(f"RUN {command}: this test does not know how to reproduce it")
    node, npm = tools
    run_env = {**env, **stage.env}
    run_env["PATH"] = ":".join(dict.fromkeys([str(npm.parent), str(node.parent), IMAGE_BASE_PATH]))
    # What npm's cache holds is used without asking the registry again: the lock file's
    # integrity hashes still check every package, and the stage costs seconds.
    run_env.setdefault("npm_config_prefer_offline", "true")
    run_env.setdefault("npm_config_update_notifier", "false")
    done = subprocess.run(
        ["/bin/sh", "-c", command],
        cwd=stage.app,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise BuildError(f"RUN {command} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def build_image(root: Path, folder: Path, uv: Path, build_env: dict[str, str]) -> Image:
    """Reproduce the Dockerfile of ``root`` in ``folder``; ``uv`` is the uv release it installs.

    ``build_env`` carries what uv and npm need from the test's machine (HOME for their
    caches and npm's settings, certificates, proxies); the Dockerfile's ENV comes on top.
    The last stage must be the python image; earlier ones may be node images.
    """
    patterns = _ignore_patterns(root)
    uv_version = subprocess.run(
        [str(uv), "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    stages: dict[str, Stage] = {}
    stage: Stage | None = None
    node: tuple[Path, Path] | None = None  # a node stage's node and npm
    workdir_set = False
    finished = 0  # stages before the current one
    for instruction in instructions((root / "Dockerfile").read_text(encoding="utf-8")):
        keyword, arguments = instruction.keyword, instruction.arguments
        if keyword == "FROM":
            if isinstance(stage, Image):
                raise BuildError(f"FROM {arguments}: the python image must be the last stage")
            if stage is not None:  # Docker names a stage by its AS name and its index
                stages[stage.name] = stages[str(finished)] = stage
                finished += 1
            described = FROM.fullmatch(arguments)
            if described is None:
                raise BuildError(f"FROM {arguments}: not reproduced here")
            base, name = described["base"], (described["name"] or str(finished)).lower()
            workdir_set = False
            python = PYTHON_BASE.fullmatch(base)
            nodejs = NODE_BASE.fullmatch(base)
            if python is not None:
                here = f"{sys.version_info.major}.{sys.version_info.minor}"
                if python["version"] != here:
                    raise BuildError(f"FROM {arguments}: the tests run on Python {here}")
                stage = Image(
                    name=name,
                    base=base,
                    app=folder / "app",
                    venv=folder / "venv",
                    python_version=python["version"],
                    stages=stages,
                )
                node = None
            elif nodejs is not None:
                node = _local_node(nodejs["major"])
                stage = Stage(name=name, base=base, app=folder / f"stage-{name}")
            else:
                raise BuildError(f"FROM {arguments}: neither a python slim nor a node image")
            stage.app.mkdir(parents=True)
            continue
        if stage is None:
            raise BuildError(f"{keyword} {arguments}: before the first FROM, not reproduced here")
        if keyword == "ENV":
            expanding = stage.expanding()
            for name, value in _env_pairs(arguments):
                stage.env[name] = expanding[name] = _expand(value, expanding)
        elif keyword == "WORKDIR":
            # The stage's folder stands for one WORKDIR; a second would need a second folder.
            if workdir_set:
                raise BuildError(f"WORKDIR {arguments}: a second WORKDIR is not reproduced here")
            stage.workdir, workdir_set = arguments, True
        elif keyword == "COPY":
            _copy_instruction(arguments, stage, stages, root, patterns)
        elif keyword == "RUN":
            command = " ".join(arguments.split())
            if node is not None:
                _run_node(command, stage, node, build_env)
            elif not isinstance(stage, Image):
                raise BuildError(f"RUN {command}: this test does not know how to reproduce it")
            elif (installs_uv := UV_INSTALL.match(command)) is not None:
                if installs_uv["version"] != uv_version:
                    raise BuildError(
                        f"the image installs uv {installs_uv['version']}, not {uv_version}"
                    )
            elif command.startswith("uv sync"):
                _run_uv(command, stage, uv, build_env)
            elif not IMAGE_ONLY_RUN.match(command):
                raise BuildError(f"RUN {command}: this test does not know how to reproduce it")
        elif keyword == "ENTRYPOINT" and isinstance(stage, Image):
            stage.entrypoint = _words(arguments)
        elif keyword == "VOLUME" and isinstance(stage, Image):
            stage.volumes.extend(_words(arguments))
        elif keyword not in ("USER", "CMD", "LABEL", "EXPOSE"):
            raise BuildError(f"{keyword} {arguments}: not reproduced here")
    if not isinstance(stage, Image):
        raise BuildError("the last stage is not the python image")
    return stage
