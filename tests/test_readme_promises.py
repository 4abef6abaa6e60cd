"""README promises that had no test: /healthz answers 503 while the database is down,
migrations take an advisory lock, old Slack event ids are cleaned up hourly, delivery
paces each channel (across processes), Resolve records the product link, and the
executive level is pinged mentioning its members."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from bot.calendar import BusinessCalendar
from bot.db import _MIGRATION_LOCK_ID, transaction
from bot.delivery import OutboxWorker
from bot.ids import ActionId
from bot.models import ProcessedEvent, Ticket
from bot.outbox import post
from bot.policy import BusinessHours
from schedules import start_scheduler
from tests.conftest import postgres_schema_url
from tests.harness import AGENT, CEO, CHANNELS, FAST_DELIVERY, MANAGER, Harness
from tests.tcp_proxy import TcpProxy


# --- /healthz while the database is down ---------------------------------------------
def health(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def wait_health(url: str, status: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while (got := health(url)) != status:
        assert time.monotonic() < deadline, f"/healthz stayed {got}, expected {status}"
        time.sleep(0.1)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_healthz_answers_503_while_the_database_is_down(database_url):
    url = make_url(database_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432)).start()
    try:
        with Harness(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)) as bot:
            healthz = bot.server.url + "/healthz"
            assert health(healthz) == 200
            proxy.stop()
            wait_health(healthz, 503)
            proxy.start()
            wait_health(healthz, 200)  # and healthy again once it is back
    finally:
        proxy.stop()


# --- the migration advisory lock -----------------------------------------------------
def waiting_for_the_lock(engine) -> int:
    """Sessions waiting for the migration lock (pg_locks splits the key in two halves)."""
    with engine.connect() as connection:
        return connection.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND ((classid::bigint << 32) | objid::bigint) = :id"), {"id": _MIGRATION_LOCK_ID}).scalar()


def test_two_processes_upgrading_at_once_wait_for_the_advisory_lock():
    """Two `escalator db upgrade` at once on one PostgreSQL database: while someone holds the
    migration lock neither touches the schema; released, both finish, the schema at head."""
    schema_url = postgres_schema_url()
    database_url = next(schema_url)
    try:
        engine = create_engine(database_url)
        holder = engine.connect()
        holder.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        env = {**os.environ, "DATABASE_URL": database_url}
        upgrades = [subprocess.Popen([sys.executable, "-m", "bot.cli", "db", "upgrade"], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
        try:
            deadline = time.monotonic() + 60
            while waiting_for_the_lock(engine) < 2 and all(p.poll() is None for p in upgrades):
                assert time.monotonic() < deadline, "the upgrades never reached the lock"
                time.sleep(0.1)
            assert [p.poll() for p in upgrades] == [None, None], [p.communicate()[0] for p in upgrades]
            with engine.connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")) \
                    .scalar() == 0, "a migration ran while another process held the lock"
        finally:
            holder.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID})
            holder.close()
        outputs = [p.communicate(timeout=60)[0] for p in upgrades]
        assert [p.returncode for p in upgrades] == [0, 0], outputs
        with engine.connect() as connection:
            assert len(connection.execute(text("SELECT version_num FROM alembic_version")).all()) == 1
            assert connection.execute(text("SELECT count(*) FROM tickets")).scalar() == 0
        engine.dispose()
    finally:
        next(schema_url, None)  # drops the schema


# --- scheduled jobs ------------------------------------------------------------------
def test_serve_schedules_the_sweep_the_digest_check_and_the_event_clean_up(sqlite_harness):
    """`serve` runs the SLA sweep every `sweep_interval`, the daily digest check every
    minute and the clean-up of old Slack event ids every hour."""
    scheduler = start_scheduler(sqlite_harness.runtime)
    try:
        every = {job.func.__name__: job.trigger.interval for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    assert every == {"sweep_sla": sqlite_harness.runtime.policy.sweep_interval, "send_digests": timedelta(minutes=1),
                     "prune_event_ledger": timedelta(hours=1),
                     "note_oncall_changes": timedelta(minutes=1)}  # docs/coverage.md (rosters: only with user groups)


# --- clean-up of old event ids -------------------------------------------------------
def test_handled_event_ids_are_forgotten_after_a_day_by_the_hourly_job(sqlite_harness):
    bot = sqlite_harness
    for event_id in ("Ev0LD", "Ev0RECENT"):
        assert bot.driver.event({"type": "app_home_opened", "user": AGENT, "tab": "home",
                                 "event_ts": f"{time.time():.6f}"}, event_id=event_id).status == 200
    with transaction(bot.runtime.sessions) as session:
        session.get(ProcessedEvent, "Ev0LD").received_at -= timedelta(days=1, minutes=1)
    scheduler = start_scheduler(bot.runtime)
    try:
        job = scheduler.get_job("prune_event_ledger")
        assert job.trigger.interval == timedelta(hours=1)
        job.func(*job.args)  # the hour has come
    finally:
        scheduler.shutdown(wait=False)
    with bot.runtime.sessions() as session:
        assert session.scalars(select(ProcessedEvent.event_id)).all() == ["Ev0RECENT"]


# --- per-channel pacing ----------------------------------------------------------------
def test_two_workers_share_each_channels_pacing(database_url):
    """Two serve processes' workers on one database: posts to one channel keep the pacing
    interval between them, whichever worker sends; another channel isn't held up."""
    interval = timedelta(milliseconds=300)
    with Harness(database_url, delivery=replace(FAST_DELIVERY, channel_interval=interval),
                 start_worker=False) as bot:
        for channel in ("C0BUSY", "C0OTHER"):
            bot.sim.add_channel(channel, channel.lower())
        with transaction(bot.runtime.sessions) as session:
            for n in range(4):
                post(session, channel="C0BUSY", payload={"text": f"busy {n}"}, role="note")
            post(session, channel="C0OTHER", payload={"text": "other"}, role="note")
        workers = [OutboxWorker(bot.runtime.sessions, bot.runtime.worker.client, bot.delivery,
                                bot.runtime.worker.renderers) for _ in range(2)]
        drains = [threading.Thread(target=worker.drain, kwargs={"timeout": 20}) for worker in workers]
        for thread in drains:
            thread.start()
        for thread in drains:
            thread.join()
        busy = [c.at for c in bot.sim.calls_to("chat.postMessage") if c.params.get("channel") == "C0BUSY"]
        other = [c.at for c in bot.sim.calls_to("chat.postMessage") if c.params.get("channel") == "C0OTHER"]
        assert [m.text for m in bot.sim.messages("C0BUSY")] == [f"busy {n}" for n in range(4)]
        gaps = [later - earlier for earlier, later in zip(busy, busy[1:])]
        assert min(gaps) >= 0.25, f"posts to one channel {gaps} s apart; pacing is {interval}"
        assert other[0] < busy[-1]  # the other channel went out meanwhile


# --- Resolve records the product link ------------------------------------------------
def test_resolve_records_the_product_improvement_link(sqlite_harness):
    bot = sqlite_harness
    key = bot.new_ticket()
    briefing = bot.briefing(key)
    modal = bot.modal_from(AGENT, briefing, ActionId.RESOLVE)
    answer = bot.driver.submit_view(AGENT, modal.id, {
        "Resolution": "Raised the export limit", "Root cause": "Feature gap",
        "Product improvement link": "https://jira.example.com/browse/PROD-77"})
    assert not (answer.json or {}).get("errors"), answer.body
    bot.wait_thread(briefing, "Resolved by")
    with bot.runtime.sessions() as session:
        ticket = session.get(Ticket, int(key.split("-")[1]))
        assert (ticket.status, ticket.product_link) == ("resolved", "https://jira.example.com/browse/PROD-77")


# --- the executive level is pinged, mentioning its members -------------------------------
def test_the_executive_level_hears_of_critical_business_impact_by_mention(harness):
    critical = harness.new_ticket(Summary="Billing down for our biggest account", **{"Revenue at risk": "150000"})
    vip_p1 = harness.new_ticket(Summary="Outage for a VIP", Severity="P1", **{"Business risk": ["VIP customer"]})
    large = harness.new_ticket(Summary="Invoices wrong", **{"Revenue at risk": "99999"})
    p1 = harness.new_ticket(Summary="Outage for one customer", Severity="P1")
    harness.briefing(p1, "tier3")
    harness.settle()
    executive = [m.rendered for m in harness.sim.messages(CHANNELS["executive"])]
    for key in (critical, vip_p1):
        [ping] = [m for m in executive if key in m]
        assert f"<@{CEO}>" in ping
    assert "revenue at risk 150,000" in next(m for m in executive if critical in m)
    assert not [m for m in executive if large in m or p1 in m]  # management's business, not the executive's
    assert any(large in m.rendered and f"<@{MANAGER}>" in m.rendered
               for m in harness.sim.messages(CHANNELS["management"]))


# --- holidays of a subdivision ---------------------------------------------------------
def test_holidays_take_a_subdivision():
    """`holidays: DE-BY`: Epiphany is a holiday in Bavaria, not in Germany as a whole."""
    epiphany = datetime(2026, 1, 6, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # a Tuesday
    office = dict(days=("mon", "tue", "wed", "thu", "fri"), start="09:00", end="17:00")
    assert BusinessCalendar(BusinessHours(**office, holidays="DE"), ZoneInfo("Europe/Berlin")).is_open(epiphany)
    assert not BusinessCalendar(BusinessHours(**office, holidays="DE-BY"), ZoneInfo("Europe/Berlin")).is_open(epiphany)
