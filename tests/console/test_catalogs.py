"""Every text a console page shows is in every language's catalog, and no template shows
a text that bypasses the catalogs. A new text without its Chinese fails here, naming the
file and line; `python -m fieldwatch_dev.catalogs --po` prints the entries to fill in."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cloud.console import i18n
from cloud.console.pages import TEMPLATES, environment
from fieldwatch_dev.catalogs import missing, source_texts

# Jinja's own syntax, blanked before the HTML is read: what is left is literal markup.
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
# Attributes a person reads (or hears, with a screen reader).
READ_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "aria-description", "value"}
# Marks that are no language: the brand and units; everything without letters (punctuation,
# digits, the dash that stands for "no value") is none either.
NOT_WORDS = {"fieldwatch", "m", "km", "s", "ms", "h", "min", "%", "mg/L", "NTU", "pH"}


class LiteralText(HTMLParser):
    """Collects text nodes and read attributes that contain letters."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value and name != "value" and self._is_text(value):
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and self._is_text(data):
            self.found.append(data.strip())

    @staticmethod
    def _is_text(value: str) -> bool:
        words = [w for w in value.split() if re.search(r"[A-Za-z\u4e00-\u9fff]", w)]
        return any(word not in NOT_WORDS for word in words)


def templates() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("template", templates(), ids=lambda p: p.name)
def test_a_template_shows_text_only_through_the_catalogs(template: Path) -> None:
    parser = LiteralText()
    parser.feed(JINJA.sub(" ", template.read_text(encoding="utf-8")))
    assert parser.found == [], f"{template.name}: text outside _(): {parser.found}"


@pytest.mark.parametrize(
    "language", [lang for lang in i18n.LANGUAGES if lang != i18n.SOURCE_LANGUAGE]
)
def test_every_text_of_the_console_is_translated(language: str) -> None:
    lacking = missing(language)
    assert lacking == {}, "\n".join(f"{where}: {text!r}" for text, where in lacking.items())


def test_the_catalogs_are_found_and_used() -> None:
    # The check above is only worth something if it sees the texts and the catalog
    # really translates them when a page is rendered.
    texts = source_texts()
    assert "Sign in" in texts
    assert "Online" in texts
    rendered = environment("zh-CN").from_string('{{ _("Sign in") }}').render()
    assert rendered == "登录"
    assert environment("en").from_string('{{ _("Sign in") }}').render() == "Sign in"


def test_the_checker_catches_a_literal_text() -> None:
    parser = LiteralText()
    parser.feed(
        JINJA.sub(" ", '<p>{{ _("Fine") }}</p><button title="Close">\u00d7</button><p>Oops</p>')
    )
    assert parser.found == ["<button title='Close'>", "Oops"]
