"""The console's texts against its catalogs: what a language lacks, what no page uses.

    python -m fieldwatch_dev.catalogs            # every language; exit 1 if one lacks a text
    python -m fieldwatch_dev.catalogs --po       # the missing ones as PO entries to fill in

Texts are found as ``pybabel extract`` finds them (cloud/console/babel.cfg, with ``N_``
as a marker), so what this lists is what the tests check (tests/console/test_catalogs.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from cloud.console import i18n

CONSOLE = Path(i18n.__file__).parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def source_texts() -> dict[str, str]:
    """Every text the console marks for translation -> where it first appears."""
    with (CONSOLE / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)  # type: ignore[no-untyped-call]
    found: dict[str, str] = {}
    for filename, line, message, _comments, _context in extract_from_dir(
        str(CONSOLE), method_map, options_map, keywords=KEYWORDS
    ):
        text = message[0] if isinstance(message, tuple) else message
        if text:
            found.setdefault(text, f"{filename}:{line}")
    return found


def missing(language: str) -> dict[str, str]:
    """Texts with no (or a fuzzy, or an empty) translation in ``language``."""
    catalog = i18n.merged_catalog(language)
    lacking = {}
    for text, where in source_texts().items():
        message = catalog.get(text)
        if message is None or message.fuzzy or not message.string:
            lacking[text] = where
    return lacking


def unused(language: str) -> list[str]:
    texts = source_texts()
    ids = (m.id for m in i18n.merged_catalog(language))
    return [i for i in ids if isinstance(i, str) and i and i not in texts]


def _po_entry(text: str, where: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'#: {where}\nmsgid "{escaped}"\nmsgstr ""\n'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--po", action="store_true", help="print missing texts as PO entries")
    args = parser.parse_args(argv)
    failed = False
    for language in i18n.LANGUAGES:
        if language == i18n.SOURCE_LANGUAGE:
            continue
        lacking = missing(language)
        for text, where in lacking.items():
            print(_po_entry(text, where) if args.po else f"{language}: {where}: {text!r}")
        for text in unused(language):
            print(f"# {language}: translated, used nowhere: {text!r}", file=sys.stderr)
        failed = failed or bool(lacking)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
