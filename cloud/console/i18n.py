"""The console's languages: Babel catalogs, the reader's choice, times in the local zone.

English is the source language: the texts in templates and in ``N_()`` markers are the
message ids. ``translations/zh_CN/LC_MESSAGES/*.po`` hold the Chinese, one file per area
of the console (so areas grow apart); they are read, merged and compiled in memory once
per process. ``docs/console.md`` says how to add a text; ``python -m
fieldwatch_dev.catalogs`` lists the texts a catalog lacks.
"""

from __future__ import annotations

import gettext
import io
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, format_timedelta
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

CATALOGS = Path(__file__).parent / "translations"
DOMAIN = "messages"
# The languages a person may choose, by BCP 47 tag, each named in itself.
LANGUAGES = {"zh-CN": "中文", "en": "English"}
SOURCE_LANGUAGE = "en"
LANGUAGE_COOKIE = "fieldwatch_language"
NOTHING = "\u2013"  # an en dash: no value


def N_(text: str) -> str:  # noqa: N802  (the gettext convention)
    """Marks a text for the catalogs where it is defined; it is translated where shown."""
    return text


def babel_name(language: str) -> str:
    """``zh-CN`` -> ``zh_CN``: the catalog folder and Babel locale of a language tag."""
    return language.replace("-", "_")


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog of a language; the source language needs none."""
    if language == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    catalog = merged_catalog(language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def chosen_language(cookie: str | None, default: str) -> str:
    """The reader's language: the one they chose, else the deployment's."""
    if cookie in LANGUAGES:
        return cookie
    return default if default in LANGUAGES else SOURCE_LANGUAGE


def merged_catalog(language: str) -> Catalog:
    """Every ``.po`` file of a language as one catalog; a text given twice is an error."""
    merged = Catalog(locale=babel_name(language), domain=DOMAIN)
    folder = CATALOGS / babel_name(language) / "LC_MESSAGES"
    for path in sorted(folder.glob("*.po")):
        with path.open("rb") as po:
            part = read_po(po, locale=babel_name(language))
        for message in part:
            if not message.id:
                continue  # the header
            if message.id in merged:
                raise ValueError(f"{path.name}: {message.id!r} is translated in two files")
            merged[message.id] = message
    return merged


@cache
def locale(language: str) -> Locale:
    return Locale.parse(babel_name(language))


def local_time(moment: datetime | None, zone: ZoneInfo, language: str) -> str:
    """A stored UTC time as the reader reads it: in the configured zone, to the second."""
    if moment is None:
        return NOTHING
    return format_datetime(moment, "yyyy-MM-dd HH:mm:ss", tzinfo=zone, locale=locale(language))


def age(moment: datetime | None, now: datetime, language: str) -> str:
    """How long ago, in words of the reader's language ("3 minutes", "3分钟")."""
    if moment is None:
        return NOTHING
    return format_timedelta(now - moment, threshold=1.5, locale=locale(language))


def number(value: float | None, language: str) -> str:
    """A count as the reader's language writes it (12,345), or NOTHING."""
    if value is None:
        return NOTHING
    return str(format_decimal(value, locale=locale(language)))
