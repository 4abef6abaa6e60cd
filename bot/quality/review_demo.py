"""`escalator demo --month`: a month of generated escalations (bot.quality.sample_data,
seeded) and the monthly review the real bot posts for it, played offline against the
built-in Slack simulator. The bot runs as `serve` would: its outbox worker delivers the
review and uploads the charts (files.getUploadURLExternal, the upload,
files.completeUploadExternal) into the review's thread in #mgmt.
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bot.config import Settings
from bot.delivery import DeliveryOptions
from bot.models import utcnow
from bot.policy import ReviewSchedule, load_policy
from bot.quality import sample_data
from bot.quality.review_schedule import month_range, month_start, next_month, previous_month, review_moment
from bot.runtime import build_runtime
from bot.simulator import FakeSlack

SEED = 12
TICKETS = 420  # a mid-sized support team's month
TICKETS_BEFORE = 380  # the month before, for the review's changes


def run_month_demo(out=print, charts_dir: str | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    if charts_dir is not None and not _writable_folder(Path(charts_dir)):
        return 2
    base = load_policy()
    policy = base.__class__(**{**base.__dict__, "review": ReviewSchedule(level="management", at="09:00")})
    month = previous_month(month_start(utcnow().astimezone(policy.timezone).date()))
    with tempfile.TemporaryDirectory() as workdir, FakeSlack(token="xoxb-demo") as sim:
        for key, level in policy.levels.items():
            sim.add_channel(level.channel, key.replace("management", "mgmt"))
        settings = Settings(bot_token="xoxb-demo", signing_secret="demo-signing-secret", slack_api_url=sim.url,
                            database_url=f"sqlite:///{Path(workdir) / 'demo.db'}")
        runtime = build_runtime(settings, policy=policy, delivery=DeliveryOptions(
            poll_interval=0.05, channel_interval=timedelta(milliseconds=50)))
        runtime.worker.start()
        try:
            _play(runtime, sim, policy, month, out)
        finally:
            runtime.worker.stop()
            runtime.stop()
        out("\n" + "=" * 72 + "\nWhat #mgmt saw\n" + "=" * 72)
        out(_channel_transcript(sim, policy.level("management").channel))
        _save_charts(sim, policy.level("management").channel, charts_dir, out)
    return 0


def _play(runtime, sim: FakeSlack, policy, month: date, out) -> None:
    name = month.strftime("%B %Y")
    before = previous_month(month)
    out(f"1. A month of escalations is generated (seed {SEED}): {TICKETS} tickets opened in {name},")
    out(f"   {TICKETS_BEFORE} in {before.strftime('%B')} for comparison. A realistic mix of severities, escalations")
    out("   by hand and by the bot, acknowledgments, SLA clocks, resolutions with root causes, knowledge-base")
    out("   gaps, training needs, product links and CSAT answers.")
    with runtime.engine.connect().execution_options(escalator_writes=True) as connection, connection.begin():
        for when, count, seed in ((before, TICKETS_BEFORE, SEED + 1), (month, TICKETS, SEED)):
            start, end = month_range(policy, when)
            sample_data.generate(connection, policy, tickets=count, start=start, end=end, seed=seed)
    moment = review_moment(policy, next_month(month))
    out(f"2. The policy says review: {{level: management, at: \"09:00\"}}. On {moment:%A %d %B at %H:%M} (the first")
    out("   working day) the review job runs: it computes the figures, draws the charts and owes Slack the")
    out("   review through the outbox, once (the alert ledger).")
    started = time.monotonic()
    runtime.review.send_due(moment)
    out(f"   (computed and drawn in {time.monotonic() - started:.1f} s)")
    out("3. The outbox worker posts the review to #mgmt, then uploads the charts into its thread.")
    deadline = time.monotonic() + 60
    while runtime.worker.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    again = runtime.review.send_due(moment + timedelta(minutes=1))
    out(f"4. A minute later the job runs again: {'posted again (a bug!)' if again else 'nothing more to post'}.")


def _channel_transcript(sim: FakeSlack, channel: str) -> str:
    transcript = sim.transcript()
    start = transcript.index(f"({channel})") if f"({channel})" in transcript else 0
    start = transcript.rfind("== ", 0, start)
    end = transcript.find("\n== ", start + 1)
    return transcript[start:end if end != -1 else None].rstrip()


def _save_charts(sim: FakeSlack, channel: str, charts_dir: str | None, out) -> None:
    files = sim.shared_files(channel)
    if not files:
        return
    sizes = ", ".join(f"{f.title} ({len(f.data) // 1024} KB)" for f in files)
    out(f"\n{len(files)} charts uploaded as PNG files: {sizes}.")
    if charts_dir is None:
        out("`escalator demo --month --charts DIR` saves them to look at.")
        return
    folder = Path(charts_dir)
    for stored in files:
        (folder / stored.name).write_bytes(stored.data)
    out(f"Saved to {folder}.")


def _writable_folder(folder: Path) -> bool:
    """--charts DIR is checked before the month is played, not after: one line and exit 2."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"escalator demo: --charts {folder}: {error.strerror or error}", file=sys.stderr)
        return False
    if not os.access(folder, os.W_OK):
        print(f"escalator demo: --charts {folder}: not writable", file=sys.stderr)
        return False
    return True
