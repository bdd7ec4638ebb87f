"""The navigation each role sees: a few destinations of its own, the rest behind "More", with counts.

A border laptop is often 1366x768: a bar of every page the user may open wrapped onto three lines.
So each role has a short group of its daily destinations; what it uses less sits in a "More" menu.
A user holding several roles gets every role's group, merged without repeating a destination.

Counts come from the packages built on the shell through the `nav_counts` signal (the shell imports
no package): each receiver answers {count key: number} for the user, from a small indexed query.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from flask import current_app, request, url_for
from flask_babel import lazy_gettext as _l

from tip_cases import signals
from tip_cases.access import ADM, BO, INV, MGR, scope_for
from tip_cases.extensions import db

log = logging.getLogger("tsela.navigation")


@dataclass(frozen=True)
class Item:
    key: str  # unique id of the destination (also its data-testid)
    label: str  # a lazy_gettext string: said in the reader's language when the navigation is built
    endpoint: str
    action: str  # shown only to a role with some scope for this action
    args: tuple[tuple[str, str], ...] = ()
    count: str | None = None  # a key answered through signals.nav_counts
    count_label: str = ""  # what the number counts, read by screen readers ("new flags")


ITEMS: dict[str, Item] = {i.key: i for i in [
    Item("queue", _l("Flag queue"), "screening.queue", "flag.view", count="flags_new_at_post",
         count_label=_l("new flags")),
    Item("capture", _l("Capture"), "screening.capture", "crossing.create"),
    Item("crossings", _l("Crossings"), "screening.crossings", "crossing.view"),
    Item("cases", _l("Cases"), "cases.index", "case.search", count="tasks_due_mine", count_label=_l("tasks due")),
    Item("travellers", _l("Travellers"), "tracing.travellers", "traveller.view"),
    Item("patterns", _l("Risk patterns"), "tracing.patterns", "traveller.view"),
    Item("trace", _l("Trace"), "screening.trace", "trace.run"),
    Item("persons", _l("Persons of interest"), "screening.persons", "poi.view"),
    Item("import", _l("Import crossings"), "screening.import_csv", "crossing.import"),
    Item("dashboard", _l("Dashboard"), "reports.dashboard", "report.view"),
    Item("statistics", _l("Statistics"), "reports.statistics", "report.view"),
    Item("exports", _l("Exports"), "reports.export_cases", "report.export"),
    Item("ctdc", _l("Victim extract (CTDC)"), "reports.export_ctdc", "report.export"),
    Item("situation", _l("Situation report"), "reports.situation", "report.export"),
    Item("approvals", _l("Approvals"), "cases.index", "case.approve", args=(("saved", "awaiting"),)),
    # The match model page (weights per feature and level): shown once its blueprint
    # registers the endpoint; the view itself enforces its own action.
    Item("model", _l("Match model"), "screening.match_model", "match_model.view"),
    Item("people", _l("People"), "admin.users", "user.manage"),
    Item("posts", _l("Posts"), "admin.posts", "post.manage"),
    Item("partners", _l("Partners"), "notifications.agencies", "notification.view"),
    Item("audit", _l("Audit"), "admin.audit_log", "audit.view"),
    Item("jobs", _l("Scheduled jobs"), "notifications.jobs", "notification.view"),
    Item("nodes", _l("Post nodes"), "postnodes.nodes", "postnode.view", count="flag_conflicts",
         count_label=_l("flags in conflict")),
    Item("outbox", _l("Outbox"), "notifications.outbox", "notification.view"),
    Item("mailbox", _l("Mail sink"), "notifications.mailbox", "mailbox.view"),
]}


@dataclass(frozen=True)
class RoleNav:
    group: str  # the group's name, read by screen readers
    primary: tuple[str, ...]
    more: tuple[str, ...] = ()


ROLE_NAV: dict[str, RoleNav] = {
    BO: RoleNav(_l("Border post"), ("queue", "capture", "crossings")),
    INV: RoleNav(_l("Investigations"), ("cases", "travellers", "patterns", "trace"),
                 ("queue", "persons", "crossings")),
    MGR: RoleNav(_l("Management"), ("dashboard", "statistics", "exports", "approvals"),
                 ("cases", "queue", "crossings", "persons", "travellers", "patterns", "trace", "import",
                  "situation", "ctdc", "model", "audit", "partners", "outbox", "jobs", "nodes")),
    ADM: RoleNav(_l("Administration"), ("people", "posts", "partners", "audit", "jobs"),
                 ("outbox", "mailbox", "dashboard", "statistics", "cases", "import", "model", "nodes")),
}


@dataclass
class Link:
    key: str
    label: str
    href: str
    count: int | None = None
    count_label: str = ""
    active: bool = False


@dataclass
class Group:
    name: str
    links: list[Link] = field(default_factory=list)


@dataclass
class Navigation:
    groups: list[Group]
    more: list[Link]

    @property
    def all_links(self) -> list[Link]:
        return [link for g in self.groups for link in g.links] + self.more


def roles_of(user) -> tuple[str, ...]:
    """The user's roles: `roles` when the account model carries several, else its one `role`."""
    roles = getattr(user, "roles", None)
    if roles:
        return tuple(roles)
    role = getattr(user, "role", None)
    return (role,) if role else ()


def plan(roles: Iterable[str], allowed: Callable[[str, str], bool],
         registered: Callable[[str], bool]) -> tuple[list[tuple[str, list[Item]]], list[Item]]:
    """Which items go in which group, and which under "More", for these roles (pure: no request).

    Each role contributes its group of primary items; an item already shown in an earlier group is
    not repeated, and "More" holds every role's remaining items that no group shows.
    """
    groups: list[tuple[str, list[Item]]] = []
    shown: set[tuple[str, tuple]] = set()
    more: list[Item] = []

    def usable(role: str, key: str) -> Item | None:
        item = ITEMS[key]
        if not registered(item.endpoint) or not allowed(role, item.action):
            return None
        if (item.endpoint, item.args) in shown:
            return None
        return item

    roles = [r for r in dict.fromkeys(roles) if r in ROLE_NAV]
    for role in roles:
        items = []
        for key in ROLE_NAV[role].primary:
            item = usable(role, key)
            if item is not None:
                items.append(item)
                shown.add((item.endpoint, item.args))
        if items:
            groups.append((ROLE_NAV[role].group, items))
    for role in roles:
        for key in ROLE_NAV[role].more:
            item = usable(role, key)
            if item is not None:
                more.append(item)
                shown.add((item.endpoint, item.args))
    return groups, more


def counts_for(user, keys: set[str]) -> dict[str, int]:
    """Ask the packages for the counts these items show; a failing receiver costs its count, not the page."""
    if not keys:
        return {}
    found: dict[str, int] = {}
    for receiver in signals.nav_counts.receivers_for(user):
        try:
            found.update(receiver(user, keys=frozenset(keys)) or {})
        except Exception:  # noqa: BLE001 - e.g. the error page while the database is down
            db.session.rollback()
            log.warning("navigation count failed", exc_info=True)
    return found


def navigation_for(user) -> Navigation:
    """The grouped navigation for a signed-in user, with counts and the current page marked."""
    views = current_app.view_functions
    groups, more = plan(roles_of(user), lambda role, action: scope_for(role, action) is not None,
                        lambda endpoint: endpoint in views)
    wanted = {i.count for _, items in groups for i in items if i.count}
    counts = counts_for(user, wanted)
    path = request.full_path.rstrip("?") if request else ""

    def link(item: Item) -> Link:
        href = url_for(item.endpoint, **dict(item.args))
        # str() says the lazy labels now, in this request's language: a Link holds plain text.
        return Link(item.key, str(item.label), href, counts.get(item.count) if item.count else None,
                    str(item.count_label), active=_is_current(path, href))

    return Navigation([Group(str(name), [link(i) for i in items]) for name, items in groups],
                      [link(i) for i in more])


def _is_current(path: str, href: str) -> bool:
    if "?" in href:
        return path == href
    base = path.split("?", 1)[0]
    return href != "/" and (base == href or base.startswith(href.rstrip("/") + "/"))
