"""The live view in a real headless Chromium (Debian's `chromium` and `chromium-driver`, driven
by Selenium): sign in through a link, watch a ticket appear, lose the connection and miss
nothing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.config import ConsumerConfig
from bot.services import feed
from tests.helpers.engine import ANN, BOB, LEAD, TEAM_CHAT, Harness
from tests.helpers.live import LiveServer, free_port, live_config, migrated, sign_in_link

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver"
    ),
]

webdriver = pytest.importorskip("selenium.webdriver")


@pytest.fixture
def chromium() -> Iterator:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


@pytest.fixture
def team(tmp_path) -> Iterator[tuple[Harness, LiveServer]]:
    url = migrated(f"sqlite:///{tmp_path / 'sopbot.db'}")
    config = live_config(tmp_path, url, free_port())
    harness = Harness(config, datetime.now(UTC))
    server = LiveServer(config, harness.services).start()
    yield harness, server
    server.stop()
    harness.close()


def wait_for(driver, script: str, timeout: float = 10.0):
    """Wait until `script` (a JavaScript expression) is truthy in the page; its value."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: d.execute_script(f"return {script}")
    )


def published_seqs(harness: Harness, after: int) -> list[int]:
    with harness.db.reading() as s:
        page = feed.changes(s, consumer=ConsumerConfig("all", "x" * 16), limit=1000)
    return [c.seq for c in page.items if c.seq > after]


def test_a_lead_signs_in_sees_a_ticket_appear_and_misses_nothing_after_a_drop(team, chromium):
    harness, server = team
    chromium.get(sign_in_link(harness, LEAD))
    assert chromium.current_url == server.url + "/app/"
    wait_for(chromium, "window.sopbotLive && window.sopbotLive.state === 'live'")
    assert chromium.find_element("id", "live").text == "live"

    harness.say(ANN, "/new bug the printer is on fire", chat=TEAM_CHAT)
    # Rows are replaced as changes arrive: read their text in the page, not through a handle.
    row = wait_for(chromium, "document.getElementById('t1')?.textContent")
    assert "the printer is on fire" in row
    seen = wait_for(chromium, "window.sopbotLive.seqs.length && window.sopbotLive.seqs")

    server.stop()  # the connection drops; the page keeps its cursor
    wait_for(chromium, "window.sopbotLive.state !== 'live'")
    assert chromium.find_element("id", "live").text.startswith("reconnecting")
    harness.say(ANN, "/comment 1 the toner is smoking", chat=TEAM_CHAT)
    harness.say(BOB, "/new bug the lift is stuck", chat=TEAM_CHAT)
    harness.say(LEAD, "/comment 2 on my way", chat=TEAM_CHAT)
    server.start()

    expected = seen + published_seqs(harness, after=seen[-1])
    wait_for(chromium, f"window.sopbotLive.seqs.length >= {len(expected)}", timeout=20)
    assert chromium.execute_script("return window.sopbotLive.seqs") == expected
    assert wait_for(chromium, "window.sopbotLive.state === 'live'")
    lift = wait_for(chromium, "document.getElementById('t2')?.textContent")
    assert "the lift is stuck" in lift
    newest = chromium.find_element("css selector", "#live-log li").text
    assert newest == "#2 comment · Lena Lead"  # in the words of the page's template
