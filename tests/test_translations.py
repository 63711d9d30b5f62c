"""Every translatable string of Ombud has a Simplified Chinese translation in the catalogue.

The strings are found the way `makemessages` finds them: template tags through Django's own
`templatize`, and gettext calls in the apps' Python code through its syntax tree. The catalogue
is the compiled one the running site uses, so a .po edited but not compiled fails too.
"""

from __future__ import annotations

import ast
import gettext
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.utils.translation.template import templatize

ROOT = Path(settings.BASE_DIR)
APPS = ("governance", "audits", "privacy", "config")
CATALOGUE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.mo"

_SINGLE = {"_", "gettext", "gettext_lazy", "gettext_noop", "pgettext", "pgettext_lazy"}
_PLURAL = {"ngettext", "ngettext_lazy", "npgettext", "npgettext_lazy"}
# In templatize's output: gettext(u'...'), pgettext(u'ctx', u'...'), ngettext(u'...', u'...', n),
# with double quotes around a message that holds an apostrophe.
_LITERAL = r"""u(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_TEMPLATE_CALL = re.compile(rf"\b(n?p?gettext)\(({_LITERAL}(?:,\s*{_LITERAL})*)")


def _python_files() -> Iterator[Path]:
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path


def _template_files() -> Iterator[Path]:
    for app in APPS:
        yield from (ROOT / app).rglob("templates/**/*.html")


def _msgids_in_python(path: Path) -> Iterator[tuple[str, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        strings = [a.value for a in node.args if isinstance(a, ast.Constant)]
        if not strings or not all(isinstance(s, str) for s in strings):
            continue
        if name in {"pgettext", "pgettext_lazy", "npgettext", "npgettext_lazy"}:
            strings = strings[1:]  # the context, not the message
        if name in _SINGLE or name in _PLURAL:
            yield f"{path.relative_to(ROOT)}:{node.lineno}", strings[0]


def _msgids_in_template(path: Path) -> Iterator[tuple[str, str]]:
    code = templatize(path.read_text(encoding="utf-8"), origin=str(path))
    for match in _TEMPLATE_CALL.finditer(code):
        literals = ast.literal_eval(f"({match.group(2)},)")
        message = literals[1] if match.group(1) in {"pgettext", "npgettext"} else literals[0]
        yield str(path.relative_to(ROOT)), message


def _all_msgids() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in _python_files():
        for where, message in _msgids_in_python(path):
            found.setdefault(message, where)
    for path in _template_files():
        for where, message in _msgids_in_template(path):
            found.setdefault(message, where)
    return found


def _catalogue() -> dict[str, str]:
    with CATALOGUE.open("rb") as handle:
        translations = gettext.GNUTranslations(handle)
    catalogue: dict[str, str] = {}
    for key, value in translations._catalog.items():  # type: ignore[attr-defined]
        msgid = key[0] if isinstance(key, tuple) else key
        catalogue.setdefault(msgid.split("\x04")[-1], value)
    return catalogue


def test_the_extractor_finds_template_and_python_strings() -> None:
    found = _all_msgids()
    assert "Sign in" in found  # a template's {% translate %}
    assert "Signed in as %(name)s. Choose where to work:" in found  # a blocktranslate
    assert "Agreement (Cohen's kappa)" in found  # an apostrophe: a double-quoted literal
    assert "Complainant" in found  # a choice label in Python
    assert len(found) > 300


def test_every_string_has_a_chinese_translation() -> None:
    catalogue = _catalogue()
    missing = {
        message: where
        for message, where in _all_msgids().items()
        if message and not catalogue.get(message)
    }
    listing = "\n".join(f"{where}: {message!r}" for message, where in sorted(missing.items()))
    assert not missing, (
        f"{len(missing)} strings have no zh-hans translation; add them to "
        f"locale/zh_Hans/LC_MESSAGES/django.po and run `manage.py compilemessages`:\n{listing}"
    )


@pytest.mark.parametrize("language", ["zh-hans"])
def test_the_catalogue_is_compiled_from_the_committed_po(language: str) -> None:
    po = CATALOGUE.with_suffix(".po")
    assert CATALOGUE.stat().st_mtime >= po.stat().st_mtime, (
        "django.mo is older than django.po; run `manage.py compilemessages`."
    )
