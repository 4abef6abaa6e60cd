"""The survey page (issue 12 §2): a customer without a Slack Connect channel gets a link
`ESCALATOR_PUBLIC_URL/csat/<token>` in the resolver's draft; the page, served by the bot's
own HTTP endpoint, shows the key and summary (HTML-escaped) and five buttons in a plain
form; only POST records. Forged, altered, expired and unknown tokens get a 404 page and
record nothing. Then the same page in a real headless browser (Debian's chromium)."""
import re
import shutil
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db import transaction
from bot.ids import ActionId
from bot.models import CsatResponse, TicketEvent, utcnow
from tests.harness import AGENT, CHANNELS, Harness

PUBLIC = "https://escalator.example.com"
SURVEY_SETTINGS = {"public_url": PUBLIC, "secret": "survey-secret-0123456789abcdef"}
HOSTILE = 'Exports <script>alert("x")</script> & <!channel> time out'


def http(method, url, body=None):
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"Content-Type": "application/x-www-form-urlencoded"} if body else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode(), answer.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), error.headers


def responses(running):
    with running.runtime.sessions() as session:
        return [(r.ticket_id, r.resolution, r.score, r.responder_id, r.channel)
                for r in session.scalars(select(CsatResponse))]


def resolved_with_draft(running, summary=HOSTILE, key=None):
    """Open and resolve a ticket for a customer without a channel (or resolve the reopened
    ticket key again); the survey URL from the draft."""
    key = key or running.new_ticket(Summary=summary, Customer="Globex")
    briefing = running.briefing(key)
    drafts = len([t for t in running.ephemeral_texts(AGENT, CHANNELS["tier1"]) if "is resolved" in t])
    modal = running.modal_from(AGENT, briefing, ActionId.RESOLVE)
    running.driver.submit_view(AGENT, modal.id, {"Resolution": "Restarted the exporter", "Root cause": "Bug"})
    draft = running.sim.wait_for(lambda: [t for t in running.ephemeral_texts(AGENT, CHANNELS["tier1"])
                                          if "is resolved" in t][drafts:], message="the resolver's draft")[0]
    assert "*Tell the customer* (ready to copy)" in draft and "Restarted the exporter" in draft
    assert f"How satisfied are you with how we handled {key}?" in draft
    url = re.search(r"https://escalator\.example\.com/csat/(\S+)", draft)
    assert url, draft
    return key, url.group(1)


@pytest.fixture
def survey(database_url):
    with Harness(database_url, settings=SURVEY_SETTINGS) as running:
        yield running


def test_get_shows_the_question_escaped_and_records_nothing_post_records(survey):
    key, token = resolved_with_draft(survey)
    page = f"{survey.server.url}/csat/{token}"
    status, html, headers = http("GET", page)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert f"How satisfied are you with how we handled {key}?" in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;!channel&gt;" in html and "<script>" not in html
    assert html.count('name="score"') == 5 and 'method="post"' in html
    assert headers["Referrer-Policy"] == "no-referrer" and headers["Cache-Control"] == "no-store"
    http("GET", page)  # a link preview fetching it again: still nothing
    assert responses(survey) == []

    status, html, _ = http("POST", page, b"score=4")
    assert status == 200 and "Thank you!" in html and "<strong>4</strong> (Satisfied)" in html
    assert f"We recorded your answer for <strong>{key}</strong>" in html
    assert responses(survey) == [(1, 1, 4, "web", "web")]
    status, html, _ = http("POST", page, b"score=2")  # changed within the week
    assert status == 200 and responses(survey) == [(1, 1, 2, "web", "web")]
    status, html, _ = http("GET", page)
    assert "You answered 2" in html and 'class="chosen"' in html
    with survey.runtime.sessions() as session:  # the audit record: no Slack user behind a web answer
        events = [(e.actor_id, e.from_level, e.reason, e.detail) for e in session.scalars(
            select(TicketEvent).where(TicketEvent.kind == "csat_answered").order_by(TicketEvent.id))]
    assert events == [
        (None, "tier1", "4 of 5 (Satisfied)", {"score": 4, "resolution": 1, "channel": "web", "replaced": False}),
        (None, "tier1", "2 of 5 (Dissatisfied)", {"score": 2, "resolution": 1, "channel": "web", "replaced": True})]


def test_the_page_shows_only_its_own_resolutions_answer(survey):
    """Another ticket's answer, or this ticket's answer to an earlier resolution, is not
    shown as if it were this one's."""
    _, first = resolved_with_draft(survey, "Exports time out")
    http("POST", f"{survey.server.url}/csat/{first}", b"score=2")
    other_key, other = resolved_with_draft(survey, "Invoices vanish")
    status, html, _ = http("GET", f"{survey.server.url}/csat/{other}")
    assert status == 200 and other_key in html and "You answered" not in html and 'class="chosen"' not in html
    briefing = survey.briefing("ESC-1")
    survey.sim.wait_for(lambda: "[Reopen]" in briefing.rendered, message="the resolved briefing")
    survey.driver.click(AGENT, CHANNELS["tier1"], briefing.ts, ActionId.REOPEN)
    survey.sim.wait_for(lambda: "[Resolve]" in briefing.rendered, message="the reopened briefing")
    _, again = resolved_with_draft(survey, key="ESC-1")
    assert again.startswith("1-2-")  # ESC-1's second resolution
    status, html, _ = http("GET", f"{survey.server.url}/csat/{again}")
    assert status == 200 and "You answered" not in html and 'class="chosen"' not in html


@pytest.mark.parametrize("score", [b"score=0", b"score=6", b"score=four", b"", b"score=1&score=5", b"\xff\xfe"])
def test_a_bad_score_is_refused_and_nothing_is_recorded(survey, score):
    _, token = resolved_with_draft(survey)
    status, html, _ = http("POST", f"{survey.server.url}/csat/{token}", score)
    assert status == 400 and "Choose a score from 1 to 5" in html and "Nothing was recorded" in html
    assert responses(survey) == []


def test_forged_altered_expired_and_unknown_tokens_get_404_and_record_nothing(survey):
    _, token = resolved_with_draft(survey)
    links = survey.runtime.survey_links
    ticket, resolution, issued, signature = token.split("-", 3)
    other_key = __import__("bot.quality.survey_tokens", fromlist=["SurveyLinks"]).SurveyLinks(PUBLIC, "another-secret-0123456789")
    bad = {
        "forged with another secret": other_key.token(1, 1, utcnow()),
        "altered ticket": f"2-{resolution}-{issued}-{signature}",
        "altered resolution": f"{ticket}-2-{issued}-{signature}",
        "altered signature": f"{ticket}-{resolution}-{issued}-{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        "expired": links.token(1, 1, utcnow() - timedelta(days=30, minutes=1)),
        "unknown resolution": links.token(1, 2, utcnow()),
        "unknown ticket": links.token(99, 1, utcnow()),
        "garbage": "not-a-token",
        "markup": "%3Cscript%3E",
    }
    for name, forged in bad.items():
        for method, body in (("GET", None), ("POST", b"score=1")):
            status, html, _ = http(method, f"{survey.server.url}/csat/{forged}", body)
            assert status == 404, (name, method, status)
            assert "not valid or has expired" in html and "Nothing was recorded" in html
    assert responses(survey) == []
    status, _, _ = http("GET", f"{survey.server.url}/csat/{links.token(1, 1, utcnow() - timedelta(days=29))}")
    assert status == 200  # 29 days old: still good


def test_after_seven_days_the_web_answer_stands(survey):
    from sqlalchemy import update

    _, token = resolved_with_draft(survey)
    page = f"{survey.server.url}/csat/{token}"
    http("POST", page, b"score=5")
    with transaction(survey.runtime.sessions) as session:
        session.execute(update(CsatResponse).values(first_answered_at=utcnow() - timedelta(days=8)))
    status, html, _ = http("POST", page, b"score=1")
    assert status == 409 and "can no longer be changed" in html
    assert responses(survey)[0][2] == 5
    assert "can no longer be changed" in http("GET", page)[1]


def test_without_a_public_url_the_draft_has_no_link_and_says_why(sqlite_url):
    with Harness(sqlite_url) as running:
        key = running.new_ticket(Customer="Globex")
        briefing = running.briefing(key)
        modal = running.modal_from(AGENT, briefing, ActionId.RESOLVE)
        running.driver.submit_view(AGENT, modal.id, {"Resolution": "Fixed", "Root cause": "Bug"})
        draft = running.sim.wait_for(lambda: [t for t in running.ephemeral_texts(AGENT, CHANNELS["tier1"])
                                              if "is resolved" in t], message="the draft")[0]
        assert "/csat/" not in draft and "set ESCALATOR_PUBLIC_URL and ESCALATOR_SECRET" in draft
        assert http("GET", f"{running.server.url}/csat/1-1-abc-{'A' * 24}")[0] == 404  # no survey route at all


CHROMIUM = shutil.which("chromium")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_customer_answers_in_a_real_browser(sqlite_url, javascript):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with Harness(sqlite_url, settings=SURVEY_SETTINGS) as running:
        key, token = resolved_with_draft(running)
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = browser.new_context(java_script_enabled=javascript).new_page()
                page.goto(f"{running.server.url}/csat/{token}")
                assert page.locator("h1").inner_text() == f"How satisfied are you with how we handled {key}?"
                assert page.locator(".summary").inner_text() == HOSTILE  # shown as text, not run
                assert page.locator("button").all_inner_texts()[0].startswith("1")
                assert len(page.locator("button").all()) == 5
                page.get_by_role("button", name="4 · Satisfied").click()
                page.wait_for_selector("text=Thank you!")
                assert "4 (Satisfied)" in page.locator("body").inner_text()
                page.get_by_role("link", name="back to the question").click()
                assert page.locator("button.chosen").inner_text().startswith("4")
            finally:
                browser.close()
        assert responses(running) == [(1, 1, 4, "web", "web")]
