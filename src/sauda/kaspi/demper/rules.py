"""The demper's pricing decision: one pure function of (our offer, competitor offers, settings).

No I/O, no clock: the job feeds it what the storefront showed and records what it returns.
Prices are whole tenge (KASPI.md). Rules (KASPI.md "The price dumper"):

- competitors are every other merchant's offer, minus our own merchants and the excluded ones;
- undercut: the cheapest competitor minus the step; match: the cheapest competitor's price;
  position N: the N-th cheapest competitor minus the step (fewer than N competitors: we are
  within the first N at any price, so this behaves like being alone);
- alone: hold, or rise to the ceiling when the store says so;
- never above the ceiling; a target below the floor goes to the floor if we are above it,
  otherwise we hold and report "floor reached";
- an unchanged price is no change.
"""

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from sauda.kaspi.models import DemperStrategy


class Reason(enum.StrEnum):
    undercut = "undercut_leader"
    position = "stay_at_position"
    match = "match_leader"
    ceiling = "capped_at_ceiling"
    floor = "floor_reached"  # held: the target is below the floor and we are at (or under) it
    to_floor = "down_to_floor"  # moved to the floor: the target was below it
    alone = "no_competitors"
    alone_raise = "alone_raise_to_ceiling"
    unchanged = "unchanged"
    bad_settings = "bad_settings"


@dataclass(frozen=True)
class Rival:
    merchant_id: str
    price: Decimal


@dataclass(frozen=True)
class Rules:
    floor: int
    ceiling: int | None = None
    step: int = 1
    strategy: DemperStrategy = DemperStrategy.undercut
    position: int = 1
    raise_when_alone: bool = False
    own_merchants: frozenset[str] = frozenset()
    excluded_merchants: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Decision:
    old_price: int | None
    new_price: int | None  # None: hold (nothing to push)
    target: int | None  # what the strategy asked for before floor/ceiling
    leader: Rival | None  # the cheapest competitor that counts
    competitors: int
    reason: Reason

    @property
    def changes(self) -> bool:
        return self.new_price is not None


def tenge(value: Decimal | int, *, up: bool = False) -> int:
    return int(Decimal(value).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR))


def rivals(offers: Iterable[Rival], rules: Rules) -> list[Rival]:
    """Competitors that count, cheapest first (ties by merchant id, so the order is stable)."""
    ignored = rules.own_merchants | rules.excluded_merchants
    counted = [o for o in offers if o.merchant_id not in ignored and o.price > 0]
    return sorted(counted, key=lambda o: (o.price, o.merchant_id))


def _target(counted: list[Rival], rules: Rules) -> tuple[int | None, Reason]:
    step = max(rules.step, 1)
    position = max(rules.position, 1)
    if rules.strategy is DemperStrategy.position and len(counted) >= position:
        return tenge(counted[position - 1].price, up=True) - step, Reason.position
    if not counted or rules.strategy is DemperStrategy.position:
        if rules.raise_when_alone and rules.ceiling is not None:
            return rules.ceiling, Reason.alone_raise
        return None, Reason.alone
    if rules.strategy is DemperStrategy.match:
        return tenge(counted[0].price), Reason.match
    return tenge(counted[0].price, up=True) - step, Reason.undercut


def decide(our_price: Decimal | int | None, offers: Iterable[Rival], rules: Rules) -> Decision:
    old = tenge(our_price) if our_price is not None else None
    counted = rivals(offers, rules)
    leader = counted[0] if counted else None

    def result(new: int | None, target: int | None, reason: Reason) -> Decision:
        if new is not None and new == old:
            new, reason = None, (reason if reason is Reason.floor else Reason.unchanged)
        return Decision(old, new, target, leader, len(counted), reason)

    if rules.floor < 1 or (rules.ceiling is not None and rules.ceiling < rules.floor):
        return Decision(old, None, None, leader, len(counted), Reason.bad_settings)
    target, reason = _target(counted, rules)
    if target is None:
        return result(None, None, reason)
    price = target
    if rules.ceiling is not None and price > rules.ceiling:
        price, reason = rules.ceiling, Reason.ceiling
    if price < rules.floor:
        if old is not None and old <= rules.floor:
            return Decision(old, None, target, leader, len(counted), Reason.floor)
        return result(rules.floor, target, Reason.to_floor)
    return result(price, target, reason)
