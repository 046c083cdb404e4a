"""Each shipped procedure from /new to closed, with the shipped config, in the terminal chat.

The config names no leads, so each person at the terminal is one; where a procedure asks for
someone else's approval, a second person (`--user alice_lead`) gives it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.terminal import Terminal, shipped_config

CONFIRM = {"please check before I open it": "yes", "Continue": "Continue"}


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return shipped_config(tmp_path)


@pytest.fixture
def people(config_file):
    opened: list[Terminal] = []

    def person(user: str | None = None) -> Terminal:
        opened.append(Terminal(config_file, user))
        return opened[-1]

    yield person
    for t in opened:
        t.close()


def finish(you: Terminal, number: int, resolution: dict[str, str | tuple[str, ...]]) -> None:
    you.tick_all_steps(number)
    said = you.type(f"/resolve {number}")
    said += you.answer(resolution, until=f"#{number} is resolved")
    assert f"#{number} is closed" in you.type(f"/close {number}")


def test_access_request_is_approved_by_someone_else(people):
    ann = people("ann")
    ann.type("/new access I need access to grafana for the on-call dashboards")
    ann.answer(
        {
            "Which system do you need access to?": "grafana",
            "What level of access?": "read",
            "Why do you need it?": "on-call rotation starts on monday",
            "By when?": "/skip",
            "Who approves it?": "@alice_lead",
            "Is this production access?": "no",
            **CONFIRM,
        },
        until="Ticket #1 is open",
    )
    alice = people("alice_lead")
    said = alice.type("/approve 1")
    assert "“Approved by the approver” is approved by alice_lead" in said
    finish(ann, 1, {"What was done to resolve it?": "Granted the viewer role in grafana"})


def test_bug_report(people):
    you = people()
    you.type("/new bug the export drops the last row")
    you.answer(
        {
            "In one line, what is wrong?": "Export to CSV drops the last row",
            "Which product, service or page": "the reports page",
            "Where did it happen?": "staging",
            "How can we see it ourselves?": (
                '"""',
                "Open the reports page",
                "Export any report to CSV",
                "Count the rows",
                '"""',
            ),
            "What did you expect to happen?": "every row in the file",
            "What happened instead?": "the last row is missing",
            "How often does it happen?": "always",
            "How much does it block you?": "minor",
            "Which version or build?": "/skip",
            "A link to a screenshot": "/skip",
            "A screenshot of the error": "/skip",
            **CONFIRM,
        },
        until="Ticket #1 is open",
    )
    finish(
        you,
        1,
        {
            "What was the cause and what fixed it?": "an off-by-one in the export loop",
            "Link to the fix": "/skip",
        },
    )


def test_change_request_is_reviewed_by_someone_else(people):
    ann = people("ann")
    ann.type("/new change upgrade postgres on db-1")
    ann.answer(
        {
            "In one line, what will change?": "Upgrade postgres to 16 on db-1",
            "Which system or service is changed?": "db-1",
            "What kind of change?": "normal",
            "How risky is it?": "medium",
            "When will it start?": "2026-12-05 22:00",
            "How long will it take?": "2h",
            "What are the steps?": ('"""', "snapshot db-1", "run pg_upgrade", "check", '"""'),
            "How do you undo it": "restore the snapshot taken before, about 30 minutes",
            "Was it tried in staging first?": "yes",
            "Will users notice downtime?": "yes",
            "Where and when is the downtime announced": "status page, a day before",
            "Who approves it?": "@alice_lead",
            **CONFIRM,
        },
        until="Ticket #1 is open",
    )
    alice = people("alice_lead")
    assert "“Plan, risk and rollback reviewed” done" in alice.type(
        "/steps 1", "Plan, risk and rollback reviewed"
    )
    finish(
        ann,
        1,
        {
            "How did it go?": "done",
            "What was done, and what would you do differently": "upgraded; rehearse the restore",
        },
    )


def test_deploy_troubleshooting(people, tmp_path):
    log = tmp_path / "deploy.log"
    log.write_text("+ kubectl apply -f app.yaml\ndeploy.sh: line 3: kubectl: command not found\n")
    you = people()
    you.type("/new deploy the nightly deploy fails from cron")
    you.answer(
        {
            "Which of these looks most like it?": "path",
            "Paste the exact error message.": (
                '"""',
                "deploy.sh: line 3: kubectl: command not found",
                "exit status 127",
                '"""',
            ),
            "The deploy's log": f"/send {log} the cron run's output",
            "Where does it fail?": "production",
            "What changed just before it broke?": "moved the deploy to cron",
            "What starts the failing program?": "cron",
            "Which version did you upgrade from": "none, same versions",
            **CONFIRM,
        },
        until="Ticket #1 is open",
    )
    finish(
        you,
        1,
        {
            "Which failure was it in the end?": "path",
            "What fixed it?": "used the absolute path /usr/local/bin/kubectl in the crontab",
        },
    )


def test_incident(people):
    you = people()
    you.type("/new incident checkout fails for many users")
    you.answer(
        {
            "How bad is it?": "high",
            "Which service or system is affected?": "checkout",
            "What do users see": "payment page errors for about half of the users",
            "When did it start?": "now",
            **CONFIRM,
        },
        until="Ticket #1 is open",
    )
    finish(
        you,
        1,
        {
            "What stopped it": "rolled back the release that broke the payment client",
            "Were customers told": "yes",
            "Link to the alert": "/skip",
            "Follow-up work": "/skip",
        },
    )
