"""Typed settings shared by every deployable: the base model, the loader, secret masking.

Where a value comes from, highest priority first:

1. the environment, ``FIELDWATCH_<FIELD NAME IN CAPITALS>``;
2. the deployable's own section (``[edge]``, ``[cloud]``) of the TOML config file named by
   ``--config FILE`` or ``FIELDWATCH_CONFIG``; one file may hold every section;
3. the default, which is a development-only value for every secret.

Outside development, a secret that is empty or a placeholder is refused when the settings
are built. Settings are built once, at start-up, by the deployable's wiring code calling
``load_settings``; never at import time. docs/configuration.md lists every setting.

This module names no deployable. Each deployable's settings class declares its own
``section``, and defining the class registers it (``settings_sections()``). A config file
may hold the sections of the settings classes defined in the process and nothing else: the
command line imports every installed part before it runs a command, so there a file may
hold the section of any installed part, and a misspelt one (``[egde]``) is refused.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar, Union, get_args, get_origin
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import AnyUrl, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "FIELDWATCH_"
CONFIG_ENV_VAR = "FIELDWATCH_CONFIG"
# A section is a TOML bare key; "all" stands for every part in `fieldwatch config --part`.
_SECTION_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_RESERVED_SECTIONS = frozenset({"all"})
MASK = "********"
MIN_SECRET_LENGTH = 16

Environment = Literal["development", "production"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
Origin = Literal["default", "file", "env"]
Port = Annotated[int, Field(ge=1, le=65535)]

# Fragments that betray a value someone meant to replace. Compared against the value
# lower-cased with everything but letters and digits removed ("Change_Me" -> "changeme").
_PLACEHOLDER_FRAGMENTS = (
    "changeme",
    "changethis",
    "replaceme",
    "placeholder",
    "password",
    "secret",
    "example",
)


class SettingsError(Exception):
    """Settings could not be built. ``problems`` holds one line per problem, no secrets."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


def env_var(field_name: str) -> str:
    """The environment variable that sets a field, e.g. ``FIELDWATCH_MQTT_URL``."""
    return ENV_PREFIX + field_name.upper()


def default_data_dir() -> Path:
    """Where files go unless ``data_dir`` says otherwise: ``$XDG_DATA_HOME/fieldwatch``.

    An absolute default, so the edge buffer does not move with the working directory.
    """
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "fieldwatch"


def placeholder_reason(value: str) -> str | None:
    """Why ``value`` cannot be a production secret, or None if it can."""
    stripped = value.strip()
    if not stripped:
        return "is empty"
    if stripped.lower().startswith("dev-"):
        return "is a development-only value (dev- prefix)"
    squashed = re.sub(r"[^a-z0-9]", "", stripped.lower())
    for fragment in _PLACEHOLDER_FRAGMENTS:
        if fragment in squashed:
            return f"looks like a placeholder (contains {fragment!r})"
    if len(stripped) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    return None


def mask_url_password(url: str) -> str:
    """``url`` with the password part, if any, replaced by ``********``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    username = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{username}:{MASK}@{hostport}"))


def is_secret_field(field: FieldInfo) -> bool:
    """True for a field typed ``SecretStr`` or ``SecretStr | None``."""
    annotation = field.annotation
    if annotation is SecretStr:
        return True
    if get_origin(annotation) in (Union, UnionType):
        return SecretStr in get_args(annotation)
    return False


# Section name -> the settings class that declared it, in the order they were defined.
_sections: dict[str, type[FieldwatchSettings]] = {}


def settings_sections() -> Mapping[str, type[FieldwatchSettings]]:
    """Every config file section known in this process, with the class that reads it."""
    return dict(_sections)


def _register_section(cls: type[FieldwatchSettings]) -> None:
    section = cls.__dict__.get("section")
    if section is None:
        return  # an intermediate class, or a subclass reading its parent's section
    if not isinstance(section, str) or not _SECTION_NAME.match(section):
        raise TypeError(f"{cls.__qualname__}.section must be a lower-case TOML key: {section!r}")
    if section in _RESERVED_SECTIONS:
        raise TypeError(f"{cls.__qualname__}.section {section!r} is reserved")
    known = _sections.get(section)
    same_class = known is not None and (known.__module__, known.__qualname__) == (
        cls.__module__,
        cls.__qualname__,
    )
    if known is not None and not same_class:  # the same class defined again is a reload
        raise TypeError(
            f"{cls.__module__}.{cls.__qualname__} and {known.__module__}.{known.__qualname__}"
            f" both declare section {section!r}"
        )
    _sections[section] = cls


class FieldwatchSettings(BaseSettings):
    """Fields and rules common to every deployable.

    A deployable's subclass sets ``section`` (``section: ClassVar[str] = "edge"``); defining
    it registers that section, so that config files may hold it.
    """

    section: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        _register_section(cls)

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        # Validation errors must not echo values: the value may be a secret.
        hide_input_in_errors=True,
    )

    environment: Environment = Field(
        default="development",
        description="development allows the built-in development-only secrets; "
        "production refuses empty and placeholder secrets",
    )
    log_level: LogLevel = Field(default="INFO", description="threshold of the log output")
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="directory for local files (edge buffer, embedded SQLite database)",
    )

    @field_validator("environment", mode="before")
    @classmethod
    def _lower_environment(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_placeholder_secrets(cls, value: object, info: ValidationInfo) -> object:
        # `environment` is the first field, so it is already in info.data when a secret
        # (or its default: BaseSettings validates defaults) is checked. If it was invalid
        # it is missing, and that error is reported on its own.
        if info.data.get("environment", "development") == "development":
            return value
        if isinstance(value, SecretStr):
            reason = placeholder_reason(value.get_secret_value())
            if reason is not None:
                raise ValueError(f"secret refused outside development: it {reason}")
        elif isinstance(value, AnyUrl) and value.password is not None:
            reason = placeholder_reason(unquote(value.password))
            if reason is not None:
                raise ValueError(f"password in the URL refused outside development: it {reason}")
        return value

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # SecretStr masks itself; a password inside a URL needs help, so that logging
        # or a traceback showing the settings object does not leak it.
        for name, value in super().__repr_args__():
            if isinstance(value, AnyUrl) and value.password is not None:
                yield name, mask_url_password(str(value))
            else:
                yield name, value


S = TypeVar("S", bound=FieldwatchSettings)


@dataclass(frozen=True)
class LoadedSettings(Generic[S]):
    """Settings together with where each field's value came from."""

    settings: S
    origins: Mapping[str, Origin]
    config_file: Path | None


def load_settings(cls: type[S], config_file: Path | None) -> S:
    """Build ``cls`` from the environment, its section of ``config_file``, and defaults.

    Raises SettingsError, one line per problem, naming each setting at fault.
    """
    return load_settings_with_origins(cls, config_file).settings


def load_settings_with_origins(cls: type[S], config_file: Path | None) -> LoadedSettings[S]:
    """Like ``load_settings``, and also tell where each value came from."""
    section = getattr(cls, "section", None)
    if section is None or section not in _sections:
        raise ValueError(f"{cls.__name__} declares no section (section: ClassVar[str] = ...)")
    env_source = EnvSettingsSource(cls)
    sources: list[PydanticBaseSettingsSource] = [env_source]  # highest priority first
    file_values: dict[str, Any] = {}
    if config_file is not None and cls.section in _read_config_file(config_file):
        file_source = TomlConfigSettingsSource(
            cls, toml_file=config_file, toml_table_header=(cls.section,)
        )
        sources.append(file_source)
        file_values = file_source()
    env_values = env_source()
    origins: dict[str, Origin] = {
        name: "env" if name in env_values else "file" if name in file_values else "default"
        for name in cls.model_fields
    }
    try:
        # _build_sources replaces the class's own source list for this one build: the
        # file is known only at run time, and init keyword arguments play no part here.
        # mypy builds __init__ from the fields (dataclass_transform), hence the ignore.
        settings = cls(_build_sources=(tuple(sources), {}))  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError(_describe(cls, exc, origins, config_file)) from None
    return LoadedSettings(settings=settings, origins=origins, config_file=config_file)


def masked_values(settings: FieldwatchSettings) -> dict[str, Any]:
    """The settings as JSON-ready values, every secret shown as ``********``."""
    values = settings.model_dump(mode="json")
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            values[name] = MASK
        elif isinstance(value, AnyUrl) and value.password is not None:
            values[name] = mask_url_password(str(value))
    return values


def _read_config_file(path: Path) -> dict[str, Any]:
    """Parse the file and check its shape: only known sections, each a table.

    TomlConfigSettingsSource reads the section itself; this pass exists because the source
    silently ignores a missing file and cannot tell a typo such as ``[egde]``.
    """
    try:
        with path.open("rb") as stream:
            document = tomllib.load(stream)
    except FileNotFoundError:
        raise SettingsError([f"config file {path}: not found"]) from None
    except IsADirectoryError:
        raise SettingsError([f"config file {path}: is a directory, not a file"]) from None
    except OSError as exc:
        raise SettingsError([f"config file {path}: cannot read it: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError([f"config file {path}: not valid TOML: {exc}"]) from None
    known = ", ".join(f"[{name}]" for name in sorted(_sections))
    problems = []
    for key, value in document.items():
        if not isinstance(value, dict):
            problems.append(f"config file {path}: {key} is outside any section (known: {known})")
        elif key not in _sections:
            problems.append(f"config file {path}: unknown section [{key}] (known: {known})")
    if problems:
        raise SettingsError(problems)
    return document


def _describe(
    cls: type[FieldwatchSettings],
    exc: ValidationError,
    origins: Mapping[str, Origin],
    config_file: Path | None,
) -> list[str]:
    """One line per validation error: section, setting, where its value came from, why."""
    problems = []
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        if error["type"] == "default_factory_not_called":
            continue  # a consequence of another field's error, which is reported
        message = error["msg"].removeprefix("Value error, ")
        field = str(error["loc"][0]) if error["loc"] else None
        if field is None:
            problems.append(f"[{cls.section}] {message}")
        elif error["type"] == "extra_forbidden":
            problems.append(f"[{cls.section}] {field} (config file {config_file}): unknown setting")
        else:
            origin = origins.get(field, "default")
            if origin == "env":
                where = f"env {env_var(field)}"
            elif origin == "file":
                where = f"config file {config_file}"
            else:
                where = f"default; set {env_var(field)} or {field} in [{cls.section}]"
            problems.append(f"[{cls.section}] {field} ({where}): {message}")
    return problems
