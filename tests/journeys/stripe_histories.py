"""Subscription histories as Stripe would send them: created, updated a few times, some deleted.

The events of a history are a minute apart, so the newest (the last) is each subscription's final state.
The send order interleaves histories at random, swaps some neighbours of one history (out of order) and
repeats some events later on (Stripe delivers at least once).
"""

import random
from dataclasses import dataclass, replace
from typing import Any

from tests.stripe_payloads import NOW, body_of, event, subscription

PRICES = (("price_monthly", "pro_monthly", "month"), ("price_annual", "pro_annual", "year"))
UPDATED_STATUSES = ("active", "active", "active", "past_due")
EVENTS_PER_SUBSCRIPTION = (2, 18)
DELETED_SHARE = 0.25
OUT_OF_ORDER_SHARE = 0.2
DUPLICATE_SHARE = 0.05
DUPLICATE_DISTANCE = 200


@dataclass(frozen=True)
class State:
    """What the mirror must show for a subscription whose newest event said this."""

    status: str
    price_id: str
    quantity: int
    cancel_at_period_end: bool
    current_period_end: int


@dataclass(frozen=True)
class PlannedEvent:
    """One Stripe event of a history, as the bytes Stripe signs."""

    event_id: str
    subscription_id: str
    customer_id: str
    body: str


@dataclass
class Plan:
    """The events in the order they are posted (repeats included), and each subscription's final state."""

    order: list[PlannedEvent]
    final: dict[str, State]
    customers: dict[str, list[str]]
    events: int
    duplicates: int
    swapped: int


def plan(count: int, rng: random.Random) -> Plan:
    """``count`` distinct events over as many histories as it takes, in a send order with faults of order."""
    histories: list[list[PlannedEvent]] = []
    final: dict[str, State] = {}
    customers: dict[str, list[str]] = {}
    made = 0
    while made < count:
        length = min(rng.randint(*EVENTS_PER_SUBSCRIPTION), count - made)
        number = len(histories)
        subscription_id, customer_id = f"sub_f{number}", f"cus_f{number // 2}"
        history, final[subscription_id] = _history(subscription_id, customer_id, length, rng)
        customers.setdefault(customer_id, []).append(subscription_id)
        histories.append(history)
        made += length
    order, swapped = _interleave(histories, rng)
    duplicates = _repeat_some(order, rng)
    return Plan(order, final, customers, count, duplicates, swapped)


def _history(
    subscription_id: str, customer_id: str, length: int, rng: random.Random
) -> tuple[list[PlannedEvent], State]:
    start = NOW - 86400 - rng.randint(0, 86400)
    events: list[PlannedEvent] = []
    state = State(
        "active", PRICES[0][0], 1, cancel_at_period_end=False, current_period_end=start + 30 * 86400
    )
    for step in range(length):
        created = start + 60 * step
        if step == 0:
            kind = "created"
        elif step == length - 1 and rng.random() < DELETED_SHARE:
            kind = "deleted"
        else:
            kind = "updated"
        state = _next_state(state, kind, rng)
        price_id, lookup_key, interval = next(p for p in PRICES if p[0] == state.price_id)
        obj: dict[str, Any] = subscription(
            subscription_id,
            customer=customer_id,
            status=state.status,
            price_id=price_id,
            lookup_key=lookup_key,
            interval=interval,
            quantity=state.quantity,
            period_end=state.current_period_end,
            cancel_at_period_end=state.cancel_at_period_end,
            canceled_at=created if kind == "deleted" else None,
        )
        stripe_event = event(
            f"customer.subscription.{kind}", obj, event_id=f"evt_{subscription_id}_{step}", created=created
        )
        events.append(PlannedEvent(stripe_event["id"], subscription_id, customer_id, body_of(stripe_event)))
    if state.status == "canceled":  # an ended subscription no longer cancels at its period's end
        state = replace(state, cancel_at_period_end=False)
    return events, state


def _next_state(state: State, kind: str, rng: random.Random) -> State:
    if kind == "created":
        return state
    if kind == "deleted":
        return State(
            "canceled", state.price_id, state.quantity, state.cancel_at_period_end, state.current_period_end
        )
    return State(
        rng.choice(UPDATED_STATUSES),
        rng.choice(PRICES)[0],
        rng.randint(1, 5),
        cancel_at_period_end=rng.random() < 0.3,
        current_period_end=state.current_period_end + rng.choice((0, 0, 30 * 86400)),
    )


def _interleave(histories: list[list[PlannedEvent]], rng: random.Random) -> tuple[list[PlannedEvent], int]:
    """Every history's events in a random merge, then some of a history's neighbours swapped."""
    slots = [number for number, history in enumerate(histories) for _ in history]
    rng.shuffle(slots)
    cursors = [0] * len(histories)
    order: list[PlannedEvent] = []
    where: dict[str, int] = {}
    for number in slots:
        planned = histories[number][cursors[number]]
        cursors[number] += 1
        where[planned.event_id] = len(order)
        order.append(planned)
    swapped = 0
    for history in histories:
        if len(history) > 1 and rng.random() < OUT_OF_ORDER_SHARE:
            step = rng.randrange(len(history) - 1)
            a, b = where[history[step].event_id], where[history[step + 1].event_id]
            order[a], order[b] = order[b], order[a]
            swapped += 1
    return order, swapped


def _repeat_some(order: list[PlannedEvent], rng: random.Random) -> int:
    """Post a share of the events a second time, a little later."""
    picked = rng.sample(range(len(order)), int(len(order) * DUPLICATE_SHARE))
    for position in sorted(picked, reverse=True):
        order.insert(min(len(order), position + rng.randint(1, DUPLICATE_DISTANCE)), order[position])
    return len(picked)
