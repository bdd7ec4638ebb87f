"""Sentences the engine says, kept translatable without the engine knowing any language but English.

The engine builds every explanation with `say(template, **values)`: the result is the English text (a
`str`, so every caller and stored flag keeps working) that also remembers its templates and values. An
application with gettext calls `translate(phrase, gettext)` to say it in the reader's language; the
templates are extracted for translators by `pybabel extract -k say` (see the Makefile). Values that are
phrases themselves are translated too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Parts = tuple[tuple[str, dict[str, Any]], ...]


class Phrase(str):
    """English text plus the (template, values) pairs it was made of, in order."""

    __slots__ = ("parts",)
    parts: Parts

    def __new__(cls, parts: Parts) -> Phrase:
        self = super().__new__(cls, "".join(_fill(t, v, str) for t, v in parts))
        self.parts = parts
        return self

    def __add__(self, other: object) -> Phrase:
        return Phrase(self.parts + _parts_of(other))

    def __radd__(self, other: object) -> Phrase:
        return Phrase(_parts_of(other) + self.parts)

    def to_json(self) -> list:
        return [[t, {k: (v.to_json() if isinstance(v, Phrase) else v) for k, v in values.items()}]
                for t, values in self.parts]

    @classmethod
    def from_json(cls, data: Any) -> Phrase | None:
        """A stored phrase, or None when the data is not one (a flag stored before phrases, or damaged)."""
        try:
            parts = tuple((str(t), {k: (cls.from_json(v) if isinstance(v, list) else v) for k, v in values.items()})
                          for t, values in data)
            return cls(parts)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError):
            return None


def say(template: str, **values: Any) -> Phrase:
    """One sentence (or part of one): an English `str.format` template with named values."""
    return Phrase(((template, values),))


def _parts_of(other: object) -> Parts:
    if isinstance(other, Phrase):
        return other.parts
    if isinstance(other, str):
        return ((other.replace("{", "{{").replace("}", "}}"), {}),)
    return NotImplemented


def _fill(template: str, values: dict[str, Any], render: Callable[[Any], str]) -> str:
    return template.format(**{k: render(v) for k, v in values.items()})


def translate(text: str, gettext: Callable[[str], str]) -> str:
    """The text in the reader's language; an untranslatable part (no template, or a translation that
    lost a placeholder) stays in English rather than failing the page."""
    if not isinstance(text, Phrase):
        return str(text)

    def render(v: Any) -> str:
        return translate(v, gettext) if isinstance(v, Phrase) else str(v)

    out = []
    for template, values in text.parts:
        try:
            out.append(_fill(gettext(template) if template else template, values, render))
        except (KeyError, IndexError, ValueError):
            out.append(_fill(template, values, render))
    return "".join(out)
