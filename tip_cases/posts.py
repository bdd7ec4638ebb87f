"""Border posts' names and aliases: the directory that resolves typed post names, and alias editing."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tip_cases.extensions import db
from tip_cases.models import BorderPost, PostAlias
from tip_cases.postnames import KnownPost, PostDirectory, clashes, post_key


class AliasError(ValueError):
    """Aliases that cannot be saved, with one sentence per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def load_directory(session: Session | None = None) -> PostDirectory:
    """Every post with its aliases (a few dozen rows: loaded once per batch or form)."""
    posts = (session or db.session).execute(select(BorderPost).options(selectinload(BorderPost.aliases))).scalars()
    return PostDirectory([KnownPost(p.id, p.code, p.name, tuple(p.alias_names)) for p in posts])


def parse_aliases(text: str) -> list[str]:
    """One alias per line; blanks dropped, and spellings that compare equal kept once."""
    seen, out = set(), []
    for line in (text or "").splitlines():
        alias = " ".join(line.split())
        if alias and post_key(alias) and post_key(alias) not in seen:
            seen.add(post_key(alias))
            out.append(alias)
    return out


def alias_problems(aliases: list[str], post_id: int | None) -> list[str]:
    """Why these aliases cannot be saved for this post (None: a new post), one sentence each."""
    problems = [f"{a!r} is longer than 120 characters" for a in aliases if len(a) > 120]
    return problems + clashes(aliases, post_id, load_directory())


def set_aliases(post: BorderPost, aliases: list[str]) -> tuple[list[str], list[str]]:
    """Replace the post's aliases; AliasError if one already names another post. Returns (added, removed).

    The caller audits and commits.
    """
    problems = alias_problems(aliases, post.id)
    if problems:
        raise AliasError(problems)
    wanted = {post_key(a): a for a in aliases}
    current = {a.key: a for a in post.aliases}
    removed = [a.alias for k, a in current.items() if k not in wanted]
    for k, a in current.items():
        if k not in wanted:
            post.aliases.remove(a)
        elif a.alias != wanted[k]:
            a.alias = wanted[k]
    db.session.flush()  # deletes first, so a re-spelt alias does not trip the unique key
    added = [a for k, a in wanted.items() if k not in current]
    for k, a in wanted.items():
        if k not in current:
            post.aliases.append(PostAlias(alias=a, key=k))
    return added, removed
