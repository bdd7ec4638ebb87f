"""Border post names as people write them: one pure resolver from a typed name to one post, or a reason.

Feeds name ports of entry in their own spellings ("Sephapo's Gate", "Moshoeshoe I Airport", "Van
Rooyens Gate"). A name resolves when it is a post's code, or its name or one of its aliases once case,
apostrophes, diacritics and punctuation are set aside; failing that, when one post's spelling is
clearly closer than every other's (rapidfuzz). Anything less certain is refused with the candidates
or the known posts named, because a crossing filed at the wrong post goes to the wrong officers' queue.

Pure: no Flask, no database (tip_cases.posts loads the directory).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz

# A typo-level difference ("Sephapo's" / "Sephapho's") scores about 96; two posts that share a word
# ("Maseru Bridge" / "Maputsoe Bridge") about 75-83. A match needs ACCEPT and a lead of MARGIN over
# the next post; posts within MARGIN of the best and above SUGGEST are named as candidates.
ACCEPT = 88.0
MARGIN = 8.0
SUGGEST = 75.0

_APOSTROPHES = re.compile(r"['\u2019\u2018`\u02bc\u00b4]")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def post_key(text: str) -> str:
    """The form two spellings are compared in: lower case, no diacritics, no apostrophes, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(_NOT_ALNUM.sub(" ", _APOSTROPHES.sub("", plain)).split())


def _similarity(a: str, b: str) -> float:
    """Spelling closeness of two keys (already normalised: rapidfuzz 3 does no preprocessing)."""
    return max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b))


@dataclass(frozen=True)
class KnownPost:
    id: int
    code: str
    name: str
    aliases: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})"


@dataclass(frozen=True)
class Resolution:
    post: KnownPost | None
    status: str  # "exact", "alias", "close" (resolved); "ambiguous", "unknown" (refused)
    candidates: tuple[KnownPost, ...] = ()
    score: float = 0.0

    @property
    def ok(self) -> bool:
        return self.post is not None


@dataclass
class PostDirectory:
    """Every post with its code, name and aliases, indexed for resolving typed names."""

    posts: list[KnownPost]
    _exact: dict[str, tuple[KnownPost, str]] = field(default_factory=dict, init=False)
    _cache: dict[str, Resolution] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for p in self.posts:
            for alias in p.aliases:
                self._exact.setdefault(post_key(alias), (p, "alias"))
        for p in self.posts:  # a name wins over another post's alias
            self._exact[post_key(p.name)] = (p, "exact")
        for p in self.posts:  # and a code over everything
            self._exact[post_key(p.code)] = (p, "exact")

    def resolve(self, text: str) -> Resolution:
        """The one post `text` names, or why not (memoised: a batch repeats its post on every line)."""
        key = post_key(text)
        if key not in self._cache:
            self._cache[key] = self._resolve(key)
        return self._cache[key]

    def _resolve(self, key: str) -> Resolution:
        if not key:
            return Resolution(None, "unknown")
        hit = self._exact.get(key)
        if hit is not None:
            return Resolution(hit[0], hit[1], score=100.0)
        scored = sorted(((max(_similarity(key, post_key(s)) for s in (p.name, *p.aliases)), p)
                         for p in self.posts), key=lambda sp: (-sp[0], sp[1].name))
        if not scored:
            return Resolution(None, "unknown")
        best, post = scored[0]
        runner_up = scored[1][0] if len(scored) > 1 else 0.0
        if best >= ACCEPT and best - runner_up >= MARGIN:
            return Resolution(post, "close", score=best)
        near = tuple(p for s, p in scored if s >= SUGGEST and best - s < MARGIN)
        if len(near) > 1:
            return Resolution(None, "ambiguous", near, score=best)
        return Resolution(None, "unknown", near, score=best)

    def known_labels(self) -> list[str]:
        return [p.label for p in sorted(self.posts, key=lambda p: p.name)]

    def explain(self, text: str, resolution: Resolution) -> str:
        """A sentence for a refused name that says what to send instead."""
        if resolution.status == "ambiguous":
            return (f"{text!r} could be any of: {', '.join(p.label for p in resolution.candidates)}. "
                    "Send the post code.")
        hint = f" Did you mean {resolution.candidates[0].label}?" if resolution.candidates else ""
        return f"{text!r} is not a known border post.{hint} Known posts: {'; '.join(self.known_labels())}."


def clashes(aliases: Iterable[str], post_id: int | None, directory: PostDirectory) -> list[str]:
    """The aliases that already name another post (its code, name or alias), for the admin form."""
    taken = {}
    for p in directory.posts:
        if p.id == post_id:
            continue
        for s in (p.code, p.name, *p.aliases):
            taken[post_key(s)] = p
    return [f"{a!r} already names {taken[post_key(a)].label}" for a in aliases if post_key(a) in taken]
