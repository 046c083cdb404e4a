"""Whether a procedure change helped: per-version figures and a seeded bootstrap that tells a
real difference from noise; what changed between two versions; when retro questions are asked."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from bot.domain import changes, retro
from bot.domain.actors import Actor
from bot.domain.comparison import TicketFacts, VersionSample, compare, difference, median_of
from bot.domain.procedure import FieldSpec, Procedure, Retro, Step
from bot.domain.ticket import Ticket

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
HOUR = 3600.0


def sample(
    version: str, hours: list[float], *, start: datetime, reworked: int = 0
) -> VersionSample:
    s = VersionSample(version, start)
    for i, h in enumerate(hours):
        s.tickets.append(TicketFacts(h * HOUR, i < reworked, 2))
    return s


def durations(seed: int, n: int, scale: float) -> list[float]:
    rng = random.Random(seed)
    return [rng.lognormvariate(0, 0.5) * scale for _ in range(n)]


def test_two_versions_from_the_same_spread_differ_only_by_noise():
    a = sample("a" * 64, durations(1, 40, 6), start=T0)
    b = sample("b" * 64, durations(2, 40, 6), start=T0 + timedelta(days=30))
    found = compare("outage", [b, a])
    d = found.differences["median_resolve_seconds"]
    assert (found.older, found.newer) == ("a" * 64, "b" * 64)  # oldest first, whatever order
    assert d.beyond_noise is False
    assert d.low < 0 < d.high


def test_a_version_that_halves_the_time_to_resolve_is_beyond_noise():
    a = sample("a" * 64, durations(1, 40, 6), start=T0)
    b = sample("b" * 64, durations(2, 40, 3), start=T0 + timedelta(days=30))
    d = compare("outage", [a, b]).differences["median_resolve_seconds"]
    assert d.beyond_noise is True
    assert d.high < 0  # faster, and the whole interval says so
    assert d.delta < -2 * HOUR


def test_the_interval_is_the_same_every_time_for_the_same_data():
    older, newer = durations(3, 30, 5), durations(4, 30, 4)
    first = difference(older, newer, median_of)
    assert difference(older, newer, median_of) == first


def test_too_few_tickets_give_a_difference_but_no_verdict():
    d = difference([HOUR] * 3, [2 * HOUR] * 30, median_of)
    assert (d.delta, d.beyond_noise, d.older_n) == (HOUR, None, 3)


def test_per_version_figures_and_the_json_shape():
    a = sample("a" * 64, [1, 2, 3, 4, 10], start=T0, reworked=1)
    a.satisfaction += [True, True, False, True]
    a.approval_seconds += [600.0, 1200.0]
    data = compare("outage", [a]).as_dict()
    assert data["procedure"] == "outage"
    assert data["difference"] is None  # one version: nothing to compare
    (v,) = data["versions"]
    assert v["version"] == "a" * 64
    assert (v["tickets"], v["resolved"]) == (5, 5)
    assert v["median_resolve_seconds"] == 3 * HOUR
    assert v["p90_resolve_seconds"] == 10 * HOUR
    assert v["rework_rate"] == 0.2 and v["satisfaction"] == 0.75
    assert v["questions_per_ticket"] == 2 and v["median_approval_wait_seconds"] == 900


def field(name: str, question: str, label: str = "") -> FieldSpec:
    return FieldSpec(name=name, question=question, label=label)


def procedure(fields, steps, retro_fields=()) -> Procedure:
    return Procedure(
        id="p",
        title="P",
        version="v",
        fields=tuple(fields),
        steps=tuple(steps),
        retro=Retro(fields=tuple(retro_fields)),
    )


def test_what_changed_is_said_by_labels_and_titles():
    old = procedure(
        [field("system", "Which system?"), field("old_one", "Gone?", "Old question")],
        [Step("grant", "Access granted"), Step("log", "Logged")],
    )
    new = procedure(
        [field("system", "Which system exactly?"), field("region", "Where?", "Region")],
        [Step("grant", "Access granted and tested"), Step("notify", "Requester told")],
        [field("slowed_by", "What slowed it?", "What slowed it down")],
    )
    found = changes.between(old, new)
    assert found.fields_added == ("Region", "What slowed it down")
    assert found.fields_removed == ("Old question",)
    assert found.fields_reworded == ("System",)
    assert found.steps_added == ("Requester told",)
    assert found.steps_removed == ("Logged",)
    assert found.steps_reworded == ("Access granted and tested",)
    assert changes.between(new, new).empty


def ticket(**kw) -> Ticket:
    t = Ticket.draft(
        number=1,
        procedure_id="p",
        procedure_version="v",
        procedure_title="P",
        text="x",
        reporter=Actor(2, "Ann"),
        chat_id=2,
        chat_type="private",
        message_id=None,
        thread_id=None,
        home_chat_id=None,
        now=T0,
    )
    t.open(procedure_version="v", due_after=timedelta(hours=4), now=T0)
    for k, v in kw.items():
        setattr(t, k, v)
    return t


def test_retro_questions_are_asked_when_late_reopened_or_slow_as_the_procedure_says():
    q = (field("why", "Why?"),)
    on_time = T0 + timedelta(hours=1)
    assert retro.reasons(Retro(fields=q), ticket(), on_time) == ("always",)
    late_or_reopened = Retro(fields=q, when=("late", "reopened"))
    assert retro.reasons(late_or_reopened, ticket(), on_time) == ()
    assert retro.reasons(late_or_reopened, ticket(), T0 + timedelta(hours=5)) == ("late",)
    assert retro.reasons(late_or_reopened, ticket(reopen_count=1), on_time) == ("reopened",)
    slow = Retro(fields=q, longer_than=timedelta(minutes=30))
    assert retro.reasons(slow, ticket(), on_time) == ("slow",)
    assert retro.reasons(Retro(), ticket(), on_time) == ()  # no questions, nothing to ask
