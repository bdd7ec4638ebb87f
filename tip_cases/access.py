"""The access policy: one table of role x action -> scope, read by view decorators, query scoping and tests.

Scopes: "all" (every record), "team" (records whose team includes the user), "post" (records of the
user's border post), "own" (records the user or API client created), "named" (records that name the
user's role or a team the user is on: need to know on protective alerts). A missing entry means denied.
Packages register how a model answers each scope (`register_scope`), so the policy stays one table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, NoReturn

from flask import abort
from sqlalchemy import false, true

from tip_cases import audit
from tip_cases.actor import current_actor
from tip_cases.extensions import db, login_manager
from tip_cases.models import ApiClient

BO, INV, MGR, ADM, SYS = "border_officer", "investigator", "manager", "admin", "system"

POLICY: dict[str, dict[str, str]] = {
    # foundation
    "home.view": {BO: "all", INV: "all", MGR: "all", ADM: "all"},
    "account.manage_own": {BO: "own", INV: "own", MGR: "own", ADM: "own"},
    "user.manage": {ADM: "all"},
    "post.manage": {ADM: "all"},
    "post.view": {BO: "all", INV: "all", MGR: "all", ADM: "all", SYS: "all"},
    "audit.view": {MGR: "all", ADM: "all"},
    # screening: crossings, persons of interest, flags
    "crossing.create": {BO: "post", SYS: "post"},
    "crossing.import": {MGR: "all", ADM: "all"},
    "crossing.view": {BO: "post", INV: "all", MGR: "all", SYS: "own"},
    "flag.view": {BO: "post", INV: "all", MGR: "all", SYS: "post"},
    "flag.review": {BO: "post", INV: "all", MGR: "all", SYS: "post"},
    "poi.view": {INV: "all", MGR: "all"},
    "poi.manage": {INV: "all", MGR: "all"},
    "trace.run": {INV: "all", MGR: "all"},
    # The one search box (issue 12: investigators and managers); each result is further scoped by its own action.
    "search.run": {INV: "all", MGR: "all"},
    "match_model.view": {MGR: "all", ADM: "all"},
    "watchlist.fetch": {SYS: "post"},
    # post nodes at headquarters: the overview (last sync, backlog, clock) and settling post/HQ conflicts
    "postnode.view": {MGR: "all", ADM: "all"},
    "postnode.settle": {MGR: "all"},  # post nodes' API clients: the signed extract for their own post
    # Need to know: a protective or discreet person of interest in full (names, documents, reason) only
    # for the roles and case team the alert names; others see that an alert exists, the action, whom to call.
    "poi.view_protected": {BO: "named", INV: "named", MGR: "named", ADM: "named", SYS: "named"},
    # tracing
    "traveller.view": {INV: "all", MGR: "all"},
    "traveller.judge": {INV: "all", MGR: "all"},
    # cases
    "case.search": {INV: "all", MGR: "all", ADM: "all"},
    "case.create": {INV: "all", MGR: "all"},
    "case.view": {INV: "team", MGR: "all", ADM: "all"},
    "case.edit": {INV: "team", MGR: "all"},
    "case.approve": {MGR: "all"},
    "evidence.download": {INV: "team", MGR: "all", ADM: "all"},
    # notifications
    "notification.view": {MGR: "all", ADM: "all"},
    "notification.manage": {ADM: "all"},
    "mailbox.view": {ADM: "all"},
    # reports
    "report.view": {MGR: "all", ADM: "all"},
    "report.export": {MGR: "all"},
}


def scope_for(role: str | None, action: str) -> str | None:
    """The scope a role has for an action, or None when denied (unknown actions are denied)."""
    if action not in POLICY:
        raise KeyError(f"unknown action {action!r}: add it to tip_cases.access.POLICY")
    return POLICY[action].get(role or "")


@dataclass
class ScopeRules:
    """How one model answers each scope: callables (user) -> SQL expression and (user, obj) -> bool."""

    post: Callable[[Any], Any] | None = None
    own: Callable[[Any], Any] | None = None
    team: Callable[[Any], Any] | None = None
    post_of: Callable[[Any], int | None] | None = None
    owner_of: Callable[[Any], Any] | None = None
    team_has: Callable[[Any, Any], bool] | None = None
    named: Callable[[Any], Any] | None = None
    named_has: Callable[[Any, Any], bool] | None = None


_SCOPES: dict[type, ScopeRules] = {}


def register_scope(model: type, rules: ScopeRules) -> None:
    _SCOPES[model] = rules


def actor_post_id(actor) -> int | None:
    return getattr(actor, "border_post_id", None)


def scope_filter(actor, action: str, model: type):
    """A WHERE clause limiting `model` rows to what `actor` may see for `action`."""
    scope = scope_for(getattr(actor, "role", None), action)
    if scope is None:
        return false()
    if scope == "all":
        return true()
    rules = _SCOPES.get(model)
    builder = getattr(rules, scope, None) if rules else None
    if builder is None:
        return false()
    return builder(actor)


def can(actor, action: str, obj: Any = None) -> bool:
    """Whether actor may do action, on obj when given (the record-level check that prevents IDOR)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    scope = scope_for(getattr(actor, "role", None), action)
    if scope is None:
        return False
    if obj is None or scope == "all":
        return True
    rules = _SCOPES.get(type(obj))
    if rules is None:
        return False
    if scope == "post":
        post = actor_post_id(actor)
        return post is not None and rules.post_of is not None and rules.post_of(obj) == post
    if scope == "own":
        return rules.owner_of is not None and rules.owner_of(obj) == _actor_key(actor)
    if scope == "team":
        return rules.team_has is not None and bool(rules.team_has(obj, actor))
    if scope == "named":
        return rules.named_has is not None and bool(rules.named_has(obj, actor))
    return False


def _actor_key(actor) -> tuple[str, int]:
    return ("api", actor.id) if isinstance(actor, ApiClient) else ("user", actor.id)


def requires(action: str):
    """View decorator: 403 unless the acting user's role has some scope for `action`.

    The action is kept on the view so the authorisation tests can be generated from POLICY.
    """
    scope_for(None, action)  # fail fast at import on a typo

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            actor = current_actor()
            if actor is None:
                return login_manager.unauthorized()
            if scope_for(actor.role, action) is None:
                audit.denied(action, None, None)
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_action = action
        return wrapped

    return decorator


def get_or_404(model: type, ident: Any, action: str, *, audit_as: str | None = None):
    """Load one record for `action`: 404 if missing *or* out of this actor's scope (audited); 403 by role.

    A record the actor may not see answers exactly like a missing one, so ids cannot be probed for
    existence; the refusal is still audited. A role with no scope at all for `action` gets 403 before
    any lookup, which reveals nothing about any record.

    With `audit_as`, an allowed read is audited and committed before any data is returned, so a
    failed audit write fails the request.
    """

    actor = current_actor()
    object_type = audit_as or model.__tablename__
    if actor is not None and scope_for(getattr(actor, "role", None), action) is None:
        audit.denied(action, object_type, ident)
        abort(403)
    obj = db.session.get(model, ident)
    if obj is None:
        abort(404)
    if not can(actor, action, obj):
        deny_record(action, object_type, ident)
    if audit_as:
        audit.record(action, object_type, ident)
        db.session.commit()
    return obj


def deny_record(action: str, object_type: str, ident: Any) -> NoReturn:
    """Refuse one record the actor may not see: audited, and answered 404 like a record that does not exist."""

    audit.denied(action, object_type, ident)
    abort(404)
