"""Learn the match model's m and u from the unit's own records, without labels (Fellegi-Sunter EM).

1. Profiles: identities are deduplicated on their normalised content (identical records say nothing
   about how the same person's records differ) and blocked like traveller resolution blocks them
   (document keys, pairs of name keys with the year of birth, a name key with the exact date).
2. Pairs: every pair sharing a block, or a deterministic sample of `max_pairs` of them (seeded).
3. Comparison vectors: each pair's level per feature, without the name-frequency adjustment (that is
   applied on top when scoring). Identical vectors are counted once with their multiplicity.
4. EM: P(match) of each vector from the current m, u and prior; then m, u and prior re-estimated from
   those posteriors. Levels are smoothed towards the starting model with a few pseudo-pairs, so a
   level seen rarely keeps a sensible, non-zero m and u. Missing values carry no evidence (weight 0):
   the m and u of the other levels are conditional on both values being recorded.

PURE: standard library and the screening engine only.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from datetime import UTC, datetime

from screening.engine.fellegi_sunter import (
    DEFAULT_ADDRESS_GROUPS,
    FEATURE_NAMES,
    MISSING,
    AddressGroup,
    MatchModel,
    default_model,
)
from screening.engine.matching import (
    DEFAULT,
    Identity,
    MatchConfig,
    Prepared,
    address_level,
    compare_names,
    dob_level,
    document_level,
    prepare,
)
from screening.engine.resolve import ResolveConfig, _probe_keys

__all__ = ["NotEnoughData", "blocked_pairs", "comparison_vector", "estimate", "estimate_with_groups", "fit",
           "random_u", "start_groups"]


class NotEnoughData(ValueError):
    """Fewer blocked pairs than a fit needs; the message says how many were found and needed."""


def comparison_vector(p: Prepared, c: Prepared, cfg: MatchConfig = DEFAULT) -> tuple[str, ...]:
    """The pair's level for each feature, in FEATURE_NAMES order."""
    names = compare_names(p, c, cfg)
    sex = MISSING if p.sex is None or c.sex is None else "agree" if p.sex == c.sex else "disagree"
    nat = (MISSING if p.nationality is None or c.nationality is None
           else "agree" if p.nationality == c.nationality else "disagree")
    return (names.surname, names.given, dob_level(p.dob, c.dob, cfg), sex, nat, document_level(p, c, cfg)[0],
            address_level(p.address, c.address, cfg))


def _signature(p: Prepared) -> tuple:
    return (p.variants, p.dob, p.sex, p.nationality, p.documents, p.address)


def blocked_pairs(profiles: list[Prepared], *, max_pairs: int, seed: int, max_bucket: int = 200,
                  min_document_length: int = DEFAULT.min_document_length) -> tuple[list[tuple[int, int]], int]:
    """(pairs, how many distinct blocked pairs were found): all, or a seeded sample of max_pairs.

    Pairs are those traveller resolution would score: each profile is stored under its keys and looks
    up the keys resolution probes (documents; name pairs with the year of birth +-1; a name with the
    exact date, also day/month swapped and +-1 year). Profiles probe in a seeded random order and
    stop once 3 x max_pairs pairs are found (then "found" is a lower bound). Blocking on the exact
    year only would leave out every pair whose years differ by one, and EM would then learn that such
    a slip never happens among matches.
    """
    rcfg = ResolveConfig(match=MatchConfig(min_document_length=min_document_length))
    buckets: dict[int, list[int]] = {}
    probes: list[list[int]] = []
    for i, p in enumerate(profiles):
        docs, pairs_, dates, store = _probe_keys(p, rcfg)
        for k in store:
            buckets.setdefault(k, []).append(i)
        probes.append(list(dict.fromkeys(docs + pairs_ + dates)))
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
    sampled: dict[int, list[int]] = {}
    for k, members in buckets.items():
        if len(members) > max_bucket:
            sampled[k] = rng.sample(members, max_bucket)  # a common name's year: a sample is enough
    seen: dict[tuple[int, int], None] = {}
    order = list(range(len(probes)))
    rng.shuffle(order)
    enough = 3 * max_pairs  # a large population: profiles in a seeded random order, until enough
    for a in order:
        if len(seen) >= enough:
            break
        for k in probes[a]:
            members = sampled.get(k) or buckets.get(k)
            if not members:
                continue
            for b in members:
                if b != a:
                    seen[(a, b) if a < b else (b, a)] = None
    pairs = list(seen)
    total = len(pairs)
    if total > max_pairs:
        pairs = random.Random(seed).sample(pairs, max_pairs)  # noqa: S311 - reproducible sample
        pairs.sort()
    return pairs, total


def estimate(counts: dict[tuple[str, ...], int], start: MatchModel, *, max_iterations: int = 500,
             tolerance: float = 1e-8, pseudo_pairs: float = 5.0, floor: float = 1e-3
             ) -> tuple[dict[str, dict[str, tuple[float, float]]], float]:
    """EM over counted comparison vectors: ({feature: {level: (m, u)}}, prior).

    `start` gives the first m, u and prior and the smoothing targets; vectors list levels in
    FEATURE_NAMES order. No m or u ends under `floor`: a level never seen among matches in this data
    (a moved address, a mistyped sex) still weighs as strong evidence, not as an absolute veto. The
    start model's document x address interaction, if any, is fitted too (`estimate_with_groups`).
    """
    levels, prior, _groups = estimate_with_groups(counts, start, max_iterations=max_iterations,
                                                  tolerance=tolerance, pseudo_pairs=pseudo_pairs, floor=floor)
    return levels, prior


def estimate_with_groups(counts: dict[tuple[str, ...], int], start: MatchModel, *,
                         groups: tuple[AddressGroup, ...] | None = None, max_iterations: int = 500,
                         tolerance: float = 1e-8, pseudo_pairs: float = 5.0, floor: float = 1e-3,
                         ) -> tuple[dict[str, dict[str, tuple[float, float]]], float, tuple[AddressGroup, ...]]:
    """`estimate`, with the address's m per group of document levels: (levels, prior, fitted groups).

    `groups` (default: the start model's) say which document levels share an address m. Among matches
    the E-step weighs the address by its group's m, and the M-step counts each group's address levels
    with the same posteriors (smoothed towards the start group's m, or the marginal m for a new one):
    the dependence is learned without labels, like every other m. u stays per feature (among
    different persons the document and the address are unrelated). The marginal address m is fitted
    too: it is what document levels outside every group use.
    """
    groups = start.address_groups if groups is None else groups
    features = [start.feature(name) for name in FEATURE_NAMES]
    levels = [[lv.name for lv in f.levels if lv.name != MISSING] for f in features]
    index = [{name: i for i, name in enumerate(ls)} for ls in levels]
    m0, u0 = [], []
    for f, ls in zip(features, levels, strict=True):
        ms = [f.level(name).m for name in ls]
        us = [f.level(name).u for name in ls]
        m0.append([x / sum(ms) for x in ms])
        u0.append([x / sum(us) for x in us])
    k_doc, k_addr = FEATURE_NAMES.index("document"), FEATURE_NAMES.index("address")
    addr_levels = levels[k_addr]
    # Group of each document level index (-1 = missing); None: outside every group (marginal m).
    group_index = {d: gi for gi, g in enumerate(groups) for d in g.document_levels}
    doc_group = {j: group_index.get(name) for j, name in enumerate(levels[k_doc])}
    doc_group[-1] = group_index.get(MISSING)
    g0 = []
    for g in groups:
        ms = [g.m[name] for name in addr_levels] if set(g.m) == set(addr_levels) else m0[k_addr]
        g0.append([x / sum(ms) for x in ms])
    # Vectors as level indices (-1 = missing), with their counts and their address group.
    rows = []
    for vector, n in counts.items():
        lv = [index[k].get(level, -1) for k, level in enumerate(vector)]
        rows.append((lv, n, doc_group[lv[k_doc]]))
    total = sum(n for _, n, _g in rows)
    if not total:
        raise NotEnoughData("no pairs to fit on")
    m = [list(x) for x in m0]
    u = [list(x) for x in u0]
    gm = [list(x) for x in g0]
    prior = start.prior
    missing_m = [0.0] * len(features)
    missing_u = [0.0] * len(features)

    def smooth(row: list[float], targets: list[float]) -> list[float]:
        return [(a + pseudo_pairs * t) / (sum(row) + pseudo_pairs) for a, t in zip(row, targets, strict=True)]

    for _ in range(max_iterations):
        log_m = [[math.log(x) for x in xs] for xs in m]
        log_u = [[math.log(x) for x in xs] for xs in u]
        log_gm = [[math.log(x) for x in xs] for xs in gm]
        log_odds_prior = math.log(prior / (1 - prior))
        am = [[0.0] * len(ls) for ls in levels]
        au = [[0.0] * len(ls) for ls in levels]
        ag = [[0.0] * len(addr_levels) for _g in groups]
        mm, mu = [0.0] * len(features), [0.0] * len(features)
        matched = 0.0
        for lv, n, g in rows:
            s = log_odds_prior
            for k, j in enumerate(lv):
                if j >= 0:
                    s += (log_gm[g][j] if k == k_addr and g is not None else log_m[k][j]) - log_u[k][j]
            post = 1.0 / (1.0 + math.exp(-s)) if s > -700 else 0.0
            wm, wu = n * post, n * (1.0 - post)
            matched += wm
            for k, j in enumerate(lv):
                if j >= 0:
                    am[k][j] += wm
                    au[k][j] += wu
                else:
                    mm[k] += wm
                    mu[k] += wu
            if g is not None and lv[k_addr] >= 0:
                ag[g][lv[k_addr]] += wm
        new_m = [smooth(row, targets) for row, targets in zip(am, m0, strict=True)]
        new_u = [smooth(row, targets) for row, targets in zip(au, u0, strict=True)]
        new_gm = [smooth(row, targets) for row, targets in zip(ag, g0, strict=True)]
        new_prior = min(max(matched / total, 1e-6), 1 - 1e-6)
        change = max(abs(new_prior - prior),
                     *(abs(a - b) for r1, r2 in zip(new_m + new_gm, m + gm, strict=True)
                       for a, b in zip(r1, r2, strict=True)),
                     *(abs(a - b) for r1, r2 in zip(new_u, u, strict=True) for a, b in zip(r1, r2, strict=True)))
        m, u, gm, prior = new_m, new_u, new_gm, new_prior
        unmatched = total - matched
        missing_m = [x / matched if matched else 0.0 for x in mm]
        missing_u = [x / unmatched if unmatched else 0.0 for x in mu]
        if change < tolerance:
            break
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for k, f in enumerate(features):
        table = {name: (_clip(m[k][j], floor), _clip(u[k][j], floor)) for j, name in enumerate(levels[k])}
        table[MISSING] = (_clip(missing_m[k], floor), _clip(missing_u[k], floor))
        out[f.name] = table
    fitted = tuple(AddressGroup(g.name, g.label, g.document_levels,
                                {name: _clip(gm[gi][j], floor) for j, name in enumerate(addr_levels)})
                   for gi, g in enumerate(groups))
    return out, prior, fitted


def _clip(x: float, floor: float) -> float:
    return min(max(x, floor), 1.0)


def random_u(profiles: list[Prepared], *, pairs: int, seed: int, cfg: MatchConfig = DEFAULT,
             floor: float = 1e-6) -> dict[str, dict[str, float]]:
    """u of every level (missing excluded) from a seeded sample of random pairs of profiles.

    Blocked pairs agree on names by construction, so a u counted among them says how often namesakes
    *in a block* agree, and the features are then far from independent (two persons met through the
    exact date of birth rarely agree on both names too). Random pairs give each feature's plain chance
    agreement, as Splink estimates u; the prior is then the random-pair match rate, and the posterior
    of a pair does not depend on how blocking found it.
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible sample
    n = len(profiles)
    counts = [dict.fromkeys([lv.name for lv in cfg.model.feature(f).levels if lv.name != MISSING], 0.0)
              for f in FEATURE_NAMES]
    for _ in range(pairs):
        a, b = rng.randrange(n), rng.randrange(n)
        if a == b:
            continue
        for k, level in enumerate(comparison_vector(profiles[a], profiles[b], cfg)):
            if level != MISSING:
                counts[k][level] += 1
    out = {}
    for k, name in enumerate(FEATURE_NAMES):
        total = sum(counts[k].values()) or 1.0
        # A level never seen among random pairs counts as half a pair (its u is under 1/pairs).
        out[name] = {lv: max((c or 0.5) / total, floor) for lv, c in counts[k].items()}
    return out


def fit(identities: Iterable[Identity], *, min_pairs: int = 2000, max_pairs: int = 200_000, seed: int = 1,
        start: MatchModel | None = None, config: MatchConfig = DEFAULT, now: datetime | None = None,
        random_pairs: int = 300_000) -> MatchModel:
    """A model fitted on these identities' blocked pairs; NotEnoughData when there are fewer than min_pairs.

    m and the share of matches among blocked pairs come from EM over blocked pairs; u from random
    pairs (`random_u`); the prior is the random-pair match rate: the matches EM finds among all the
    blocked pairs, over all pairs of distinct profiles (blocking is taken to miss few matches).
    """
    start = start or default_model()
    cfg = MatchConfig(model=start, **{k: getattr(config, k) for k in ("min_document_length",)})
    profiles: dict[tuple, Prepared] = {}
    records = 0
    for identity in identities:
        records += 1
        p = prepare(identity)
        profiles.setdefault(_signature(p), p)
    distinct = list(profiles.values())
    pairs, found = blocked_pairs(distinct, max_pairs=max_pairs, seed=seed,
                                 min_document_length=cfg.min_document_length)
    if found < min_pairs:
        raise NotEnoughData(f"found {found:,} blocked pairs of records among {len(distinct):,} distinct records; "
                            f"a fit needs at least {min_pairs:,}")
    counts: dict[tuple[str, ...], int] = {}
    for a, b in pairs:
        v = comparison_vector(distinct[a], distinct[b], cfg)
        counts[v] = counts.get(v, 0) + 1
    levels, blocked_prior, groups = estimate_with_groups(counts, start, groups=start_groups(start))
    u = random_u(distinct, pairs=random_pairs, seed=seed, cfg=cfg)
    for name, table in levels.items():
        for lv, (m_, _u) in list(table.items()):
            if lv in u[name]:
                table[lv] = (m_, u[name][lv])
    n = len(distinct)
    prior = min(max(blocked_prior * found / (n * (n - 1) / 2), 1e-9), 0.5)
    when = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    return start.with_levels(levels, prior=prior, pairs=len(pairs), fitted_at=when, population=records,
                             address_groups=groups)


def start_groups(start: MatchModel) -> tuple[AddressGroup, ...]:
    """The document x address groups a fit learns: the start model's, else the default grouping
    (each starting from the start model's marginal address m)."""
    if start.address_groups:
        return start.address_groups
    address = start.feature("address")
    m = {lv.name: lv.m for lv in address.levels if lv.name != MISSING}
    return tuple(AddressGroup(name, label, levels, dict(m)) for name, label, levels in DEFAULT_ADDRESS_GROUPS)
