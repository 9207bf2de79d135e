"""Property tests of the demper's pure decision (hypothesis), plus the cases KASPI.md spells out."""

from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sauda.kaspi.demper.rules import Decision, Reason, Rival, Rules, decide
from sauda.kaspi.models import DemperStrategy

OWN, EXCLUDED = "OWN", "EXCL"
merchants = st.sampled_from(["M1", "M2", "M3", "M4", "M5", OWN, EXCLUDED])
prices = st.integers(min_value=1, max_value=2_000_000)
offers = st.lists(
    st.builds(Rival, merchant_id=merchants, price=prices.map(Decimal)),
    max_size=12,
)


@st.composite
def rules(draw: st.DrawFn) -> Rules:
    floor = draw(st.integers(min_value=1, max_value=1_500_000))
    ceiling = draw(st.none() | st.integers(min_value=floor, max_value=2_500_000))
    return Rules(
        floor=floor,
        ceiling=ceiling,
        step=draw(st.integers(min_value=1, max_value=5000)),
        strategy=draw(st.sampled_from(list(DemperStrategy))),
        position=draw(st.integers(min_value=1, max_value=5)),
        raise_when_alone=draw(st.booleans()),
        own_merchants=frozenset({OWN}),
        excluded_merchants=frozenset({EXCLUDED}),
    )


our_prices = st.none() | prices


@settings(max_examples=400)
@given(our=our_prices, competitors=offers, rule=rules())
def test_never_below_floor_nor_above_ceiling(our: int | None, competitors: list[Rival], rule: Rules) -> None:
    decision = decide(our, competitors, rule)
    if decision.new_price is not None:
        assert decision.new_price >= rule.floor
        if rule.ceiling is not None:
            assert decision.new_price <= rule.ceiling


@settings(max_examples=400)
@given(our=our_prices, competitors=offers, noise=offers, rule=rules())
def test_own_and_excluded_merchants_never_count(
    our: int | None, competitors: list[Rival], noise: list[Rival], rule: Rules
) -> None:
    ignored = [o for o in noise if o.merchant_id in (OWN, EXCLUDED)]
    plain = decide(our, competitors, rule)
    with_ignored = decide(our, competitors + ignored, rule)
    without = decide(our, [o for o in competitors if o.merchant_id not in (OWN, EXCLUDED)], rule)
    assert plain == with_ignored == without
    if plain.leader is not None:
        assert plain.leader.merchant_id not in (OWN, EXCLUDED)


@settings(max_examples=400)
@given(our=our_prices, competitors=offers, rule=rules())
def test_a_decided_price_is_a_fixed_point(our: int | None, competitors: list[Rival], rule: Rules) -> None:
    """Once the price is where the rules want it, nothing changes (no churn on Kaspi)."""
    first = decide(our, competitors, rule)
    assume(first.new_price is not None)
    again = decide(first.new_price, competitors, rule)
    assert again.new_price is None
    assert again.reason in (Reason.unchanged, Reason.floor)


@settings(max_examples=300)
@given(our=prices, competitors=offers, rule=rules())
def test_no_change_reports_why(our: int, competitors: list[Rival], rule: Rules) -> None:
    decision = decide(our, competitors, rule)
    assert decision.old_price == our
    if decision.new_price is None:
        assert decision.reason in (Reason.unchanged, Reason.floor, Reason.alone)
    else:
        assert decision.new_price != our


@settings(max_examples=300)
@given(our=prices, competitors=offers, rule=rules())
def test_undercut_is_just_below_the_leader_when_the_rules_allow(
    our: int, competitors: list[Rival], rule: Rules
) -> None:
    rule = Rules(**{**rule.__dict__, "strategy": DemperStrategy.undercut})
    decision = decide(our, competitors, rule)
    if decision.leader is None:
        return
    wanted = int(decision.leader.price) - rule.step
    top = rule.ceiling if rule.ceiling is not None else wanted
    expected = max(min(wanted, top), rule.floor)
    if decision.new_price is not None:
        assert decision.new_price == expected
    else:
        assert our == expected or (wanted < rule.floor and our <= rule.floor)


def _d(our: int | None, comps: list[tuple[str, int]], **rule: object) -> Decision:
    base: dict[str, object] = {"floor": 1000, "own_merchants": frozenset({OWN})}
    return decide(our, [Rival(m, Decimal(p)) for m, p in comps], Rules(**(base | rule)))  # type: ignore[arg-type]


def test_the_spelled_out_cases() -> None:
    assert _d(5000, [("M1", 4500), ("M2", 4800), (OWN, 5000)]).new_price == 4499
    assert _d(5000, [("M1", 4500)], step=10).new_price == 4490
    assert _d(5000, [("M1", 4500)], strategy=DemperStrategy.match).new_price == 4500
    second = _d(5000, [("M1", 4500), ("M2", 4800)], strategy=DemperStrategy.position, position=2)
    assert (second.new_price, second.reason) == (4799, Reason.position)
    # fewer competitors than the position: like being alone
    assert _d(5000, [("M1", 4500)], strategy=DemperStrategy.position, position=3).reason is Reason.alone
    # below the floor: down to the floor once, then hold with "floor reached"
    down = _d(1200, [("M1", 900)])
    assert (down.new_price, down.reason) == (1000, Reason.to_floor)
    held = _d(1000, [("M1", 900)])
    assert (held.new_price, held.reason) == (None, Reason.floor)
    # alone: hold, or up to the ceiling when asked
    assert _d(5000, [(OWN, 5000)]).reason is Reason.alone
    alone = _d(5000, [], ceiling=7000, raise_when_alone=True)
    assert (alone.new_price, alone.reason) == (7000, Reason.alone_raise)
    # the leader far above: capped at the ceiling
    capped = _d(5000, [("M1", 9000)], ceiling=6000)
    assert (capped.new_price, capped.reason) == (6000, Reason.ceiling)
    # excluded merchants do not count
    assert _d(5000, [("X", 10)], excluded_merchants=frozenset({"X"})).reason is Reason.alone
    # already right: no change
    assert _d(4499, [("M1", 4500)]).reason is Reason.unchanged
    # a floor above the ceiling is refused, not obeyed halfway
    assert _d(5000, [("M1", 4500)], ceiling=900).reason is Reason.bad_settings
