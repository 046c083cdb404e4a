"""The write API over real HTTP (uvicorn on 127.0.0.1, httpx as the program), on both
databases: the same gate as chat, idempotency keys, problems, scopes and the OpenAPI."""

from __future__ import annotations

import threading
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import select

from bot.config import ClientConfig, HttpConfig
from bot.db.models import AuditEvent, Ticket
from bot.http.api import ENDPOINTS, PREFIX
from tests.helpers.engine import TEAM_CHAT, Harness, make_config
from tests.helpers.served import serving

ROBOT = "robot-" + "r" * 30
READER = "reader-" + "q" * 30
OTHER = "other-" + "o" * 30
LEAD = "lead-" + "l" * 30
OTHER_CHAT = -200


@pytest.fixture
def team(tmp_path, database_url, now):
    config = make_config(tmp_path, database_url)
    config = replace(
        config,
        http=HttpConfig(
            enabled=True,
            port=0,
            clients=(
                ClientConfig("robot", ROBOT, frozenset({"write"}), (TEAM_CHAT,)),
                ClientConfig("reader", READER, frozenset({"read"})),
                ClientConfig("other", OTHER, frozenset({"write"}), (OTHER_CHAT,)),
                ClientConfig("boss", LEAD, frozenset({"lead"})),
            ),
        ),
    )
    h = Harness(config, now)
    yield h
    h.close()


@pytest.fixture
def base_url(team):
    with serving(team.config, team.services) as url:
        yield url


def api(base_url: str, token: str | None = ROBOT) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url + PREFIX, headers=headers, timeout=10)


def questions(body: dict) -> dict[str, dict]:
    return {q["field"]: q for q in body["questions"]}


@pytest.mark.backends
def test_an_agent_gets_the_gates_questions_as_data_and_its_valid_fields_are_kept(team, base_url):
    with api(base_url) as c:
        first = c.post(
            "/tickets",
            json={
                "procedure": "access",
                "text": "Need access please",
                "fields": {"system": "github", "justification": "too short", "colour": "red"},
            },
        )
        number = first.json()["number"]
        fixed = c.post(
            f"/tickets/{number}/answers",
            json={
                "fields": {
                    "justification": "deploying the new billing service",
                    "production": False,
                    "needed_by": None,
                }
            },
        )
        opened = c.post(f"/tickets/{number}/confirm")
        shown = c.get(f"/tickets/{number}")

    assert first.status_code == 201
    body = first.json()
    assert body["status"] == "waiting_for_info"
    asked = questions(body)
    assert "system" not in asked  # kept: never asked again
    assert asked["justification"]["reason"] and asked["justification"]["error"]
    assert asked["production"]["type"] == "boolean" and "error" not in asked["production"]
    assert body["ignored"][0]["field"] == "colour"
    assert fixed.json()["status"] == "awaiting_confirmation"
    assert {r["field"]: r["value"] for r in fixed.json()["summary"]}["system"] == "github"
    assert opened.status_code == 200 and opened.json()["status"] == "open"
    assert shown.json()["fields"]["system"] == "github" and shown.json()["questions"] == []
    with team.db.reading() as s:
        actors = set(s.scalars(select(AuditEvent.actor_name).where(AuditEvent.ticket_id == number)))
    assert actors == {"agent:robot"}
    # The team chat hears of the new ticket as it would from chat; the agent's own answers
    # are not sent to Telegram.
    from bot.db.models import OutboxMessage

    with team.db.reading() as s:
        kinds = list(s.scalars(select(OutboxMessage.kind).where(OutboxMessage.ticket_id == number)))
    assert kinds == ["announcement"]


@pytest.mark.backends
def test_confirm_in_the_request_opens_a_complete_ticket_at_once(base_url):
    with api(base_url) as c:
        r = c.post(
            "/tickets",
            json={
                "procedure": "bug",
                "text": "It crashes",
                "fields": {"summary": "x"},
                "confirm": True,
            },
        )
    assert r.status_code == 201 and r.json()["status"] == "open"


@pytest.mark.backends
def test_a_repeated_idempotency_key_returns_the_first_answer_and_no_second_ticket(team, base_url):
    request = {"procedure": "bug", "text": "Printer is broken"}
    with api(base_url) as c:
        first = c.post("/tickets", json=request, headers={"Idempotency-Key": "k-1"})
        again = c.post("/tickets", json=request, headers={"Idempotency-Key": "k-1"})
        other = c.post("/tickets", json={"text": "x"}, headers={"Idempotency-Key": "k-1"})

    assert again.status_code == first.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert team.count(Ticket) == 1


@pytest.mark.backends
def test_two_concurrent_requests_with_one_key_make_one_ticket(team, base_url):
    request = {"procedure": "bug", "text": "Printer is broken"}
    answers: list[httpx.Response] = []
    start = threading.Barrier(4)

    def post() -> None:
        with api(base_url) as c:
            start.wait()
            answers.append(c.post("/tickets", json=request, headers={"Idempotency-Key": "same"}))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)

    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["number"] for a in answers}) == 1
    assert team.count(Ticket) == 1


@pytest.mark.backends
def test_problems_are_problem_json_with_401_and_403_as_the_rules_say(base_url):
    with api(base_url, None) as anonymous, api(base_url, "wrong-token-" + "w" * 20) as wrong:
        no_token = anonymous.post("/tickets", json={"text": "x"})
        bad_token = wrong.get("/tickets")
    with api(base_url, READER) as reader:
        read_only = reader.post("/tickets", json={"text": "x", "procedure": "bug"})
        may_read = reader.get("/tickets")
    with api(base_url) as robot:
        created = robot.post("/tickets", json={"procedure": "bug", "text": "crash"}).json()
        elsewhere = robot.post("/tickets", json={"procedure": "bug", "text": "c", "chat_id": -5})
        unclear = robot.post("/tickets", json={"text": "hello there"})
        missing = robot.get("/tickets/999")
    with api(base_url, OTHER) as other:
        not_theirs = other.get(f"/tickets/{created['number']}")

    for r in (no_token, bad_token):
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["status"] == 401 and r.json()["detail"]
    assert read_only.status_code == 403 and read_only.json()["code"] == "missing_scope"
    assert may_read.status_code == 200
    assert elsewhere.status_code == 403 and elsewhere.json()["field"] == "chat_id"
    assert not_theirs.status_code == 403 and not_theirs.json()["code"] == "chat_not_allowed"
    assert unclear.status_code == 422 and unclear.json()["field"] == "procedure"
    assert set(unclear.json()["choices"]) == {"access", "bug"}
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


@pytest.mark.backends
def test_a_refusal_is_a_409_with_the_tickets_reason_and_words(team, base_url):
    with api(base_url) as c:
        n = c.post(
            "/tickets",
            json={
                "procedure": "access",
                "text": "access",
                "confirm": True,
                "fields": {
                    "system": "aws",
                    "justification": "the quarterly audit needs read access",
                    "production": False,
                    "needed_by": None,  # optional: skipped, never guessed
                },
            },
        ).json()["number"]
        early = c.post(f"/tickets/{n}/resolve")
        lead_step = c.post(f"/tickets/{n}/steps/approve")
        grant = c.post(f"/tickets/{n}/steps/grant")
        comment = c.post(f"/tickets/{n}/comments", json={"text": "on it"})
    with api(base_url, LEAD) as boss:
        approve = boss.post(f"/tickets/{n}/steps/approve")
        resolving = boss.post(f"/tickets/{n}/resolve")
        done = boss.post(
            f"/tickets/{n}/resolve", json={"fields": {"solution": "granted read access"}}
        )

    assert early.status_code == 409
    assert early.json()["reason"] == "steps_left" and "Approval recorded" in early.json()["detail"]
    assert lead_step.status_code == 409 and lead_step.json()["reason"] == "leads_only_step"
    assert grant.status_code == 200 and comment.status_code == 201
    assert approve.status_code == 200
    assert questions(resolving.json())["solution"]["question"]
    assert done.json()["status"] == "resolved"
    assert "step.refused" in team.actions(n) or "action.refused" in team.actions(n)


def test_the_openapi_describes_exactly_the_routes_served(team, base_url):
    from bot.http.server import build_server

    with api(base_url, READER) as c:
        described = c.get("/openapi.json").json()
    app = build_server(team.config, team.services).config.app.app  # under the head fast path
    served = {
        (method, route.path.replace(":int", ""))
        for route in app.routes
        if route.path.startswith(PREFIX)
        for method in route.methods - {"HEAD"}
    }
    listed = {(method.upper(), path) for path, ops in described["paths"].items() for method in ops}
    assert listed == served
    assert len(served) == len(ENDPOINTS)


@pytest.mark.backends
def test_one_resolve_request_answers_the_resolution_and_the_retro_questions(team, base_url):
    access = team.config.procedures_dir / "access.yaml"
    access.write_text(
        access.read_text()
        + "retro:\n  fields:\n    - name: slowed_by\n      question: What slowed it down?\n"
    )
    with api(base_url) as c:
        n = c.post(
            "/tickets",
            json={
                "procedure": "access",
                "text": "access",
                "confirm": True,
                "fields": {
                    "system": "aws",
                    "justification": "the quarterly audit needs read access",
                    "production": False,
                    "needed_by": None,
                },
            },
        ).json()["number"]
        c.post(f"/tickets/{n}/steps/grant")
    with api(base_url, LEAD) as boss:
        boss.post(f"/tickets/{n}/steps/approve")
        asked = boss.post(f"/tickets/{n}/resolve", json={"fields": {"solution": "granted it"}})
        done = boss.post(
            f"/tickets/{n}/resolve",
            json={"fields": {"solution": "granted read access", "slowed_by": "nothing at all"}},
        )
    assert questions(asked.json())["slowed_by"]["question"] == "What slowed it down?"
    assert done.json()["status"] == "resolved"
    assert "retro.answered" in team.actions(n)
