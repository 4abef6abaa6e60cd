"""What tests ask the fake Slack: what was posted, shown, opened and called.

Mixed into ``FakeSlack``.  Channels may be given by id ("C1") or by name
("#general").  Returned records are the live ones (a later chat.update shows
through); lists are fresh copies, safe to keep while the bot keeps posting.
"""

from __future__ import annotations

import copy
import inspect
import os
import time
from typing import Any, Callable, Optional

from .blocks import assign_ids
from .models import Call, Ephemeral, Message, StoredView



# How long a test waits for something the bot must do. A pass returns as soon as it is
# seen, so the limit only costs time when something is missing; 15 s keeps a suite
# loaded by other work (-n 4 on two cores) from failing on a slow but correct bot.
WAIT = 15.0


def scaled(timeout: float) -> float:
    """A wait's limit, times ESCALATOR_TEST_WAIT_SCALE: a mutation run traces every line and
    shares two cores, so the fake Slack's waits get longer there (tests/mutation_order.py)."""
    return timeout * float(os.environ.get("ESCALATOR_TEST_WAIT_SCALE", "1"))

class Queries:
    def _cid(self, channel: Optional[str]) -> Optional[str]:
        if channel and channel.startswith("#"):
            for ch in self.channels.values():
                if ch.name == channel[1:]:
                    return ch.id
            raise KeyError(f"no channel named {channel}; have {sorted(self.channels)}")
        return channel

    # -- messages ----------------------------------------------------------------
    def messages(self, channel: str) -> list[Message]:
        """Root messages of a channel, oldest first."""
        with self.lock:
            return list(self.channels[self._cid(channel)].messages)

    def replies(self, channel: str, ts: str) -> list[Message]:
        """Thread replies under the root message ts, oldest first."""
        with self.lock:
            msg = self._find(self._cid(channel), ts)
            if msg is None:
                raise KeyError(f"no message {ts} in {channel}")
            return list(msg.replies)

    def message(self, channel: str, ts: str) -> Optional[Message]:
        with self.lock:
            return self._find(self._cid(channel), ts)

    def all_posts(self, channel: Optional[str] = None) -> list[Message]:
        """Every message (roots and replies) in ts order, optionally in one channel."""
        with self.lock:
            cid = self._cid(channel)
            found = [m for (c, _), m in self._by_ts.items() if cid in (None, c)]
        return sorted(found, key=lambda m: float(m.ts))

    def find_messages(self, text_contains: Optional[str] = None, channel: Optional[str] = None,
                      user: Optional[str] = None, thread_ts: Optional[str] = None) -> list[Message]:
        """Messages whose rendered text contains text_contains (and by user / in thread)."""
        return [m for m in self.all_posts(channel)
                if (text_contains is None or text_contains in m.rendered)
                and user in (None, m.user)
                and (thread_ts is None or m.thread_ts == thread_ts)]

    def find_message(self, text_contains: Optional[str] = None, channel: Optional[str] = None,
                     user: Optional[str] = None, thread_ts: Optional[str] = None) -> Optional[Message]:
        """The first (oldest) matching message, or None."""
        found = self.find_messages(text_contains, channel, user, thread_ts)
        return found[0] if found else None

    def bot_posts(self, channel: Optional[str] = None) -> list[Message]:
        return [m for m in self.all_posts(channel) if m.user == self.bot_user_id]

    # -- ephemerals and response_urls -----------------------------------------------
    def ephemerals(self, channel: Optional[str] = None, user: Optional[str] = None) -> list[Ephemeral]:
        """chat.postEphemeral messages and ephemeral response_url answers, in order."""
        with self.lock:
            cid = self._cid(channel)
            return [e for e in self._ephemerals if cid in (None, e.channel) and user in (None, e.user)]

    def responses(self, url_or_id: str) -> list[dict]:
        """Raw JSON bodies POSTed to one response_url."""
        with self.lock:
            return copy.deepcopy(self._response_urls[url_or_id.rstrip("/").rsplit("/", 1)[-1]].posts)

    # -- views -------------------------------------------------------------------
    def views_opened(self, user: Optional[str] = None) -> list[StoredView]:
        """Modals opened or pushed (closed ones too), in opening order."""
        with self.lock:
            return [v for v in self._views.values() if v.type == "modal" and user in (None, v.user)]

    def view(self, view_id: str) -> StoredView:
        with self.lock:
            return self._views[view_id]

    def open_modal(self, user: str) -> Optional[StoredView]:
        """The modal on top of the user's screen, or None."""
        with self.lock:
            stack = self._open_stack(user)
            return stack[-1] if stack else None

    def home(self, user: str) -> Optional[StoredView]:
        """The user's published Home tab, or None."""
        with self.lock:
            return self._homes.get(user)

    def apply_view_response(self, view_id: str, answer: Optional[dict]) -> None:
        """Do what Slack does with a view_submission answer (the driver calls this):
        none -> close the modal; "clear" -> close the stack; "update"/"push" -> show
        the new view; "errors" -> keep it open."""
        with self.lock:
            sv = self._views[view_id]
            action = (answer or {}).get("response_action")
            if action == "errors":
                return
            if action == "update":
                sv.view = copy.deepcopy(answer["view"])
                sv.view["blocks"] = assign_ids(sv.view.get("blocks"))
                sv.hash = self._next_id("h")
                sv.updates += 1
            elif action == "push":
                self._new_view(sv.user, answer["view"], sv)
            elif action == "clear":
                for v in self._open_stack(sv.user):
                    v.closed = True
            else:
                sv.closed = True

    # -- calls ---------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def count(self, method: str, *, status: Optional[int] = None) -> int:
        """How many calls of `method` arrived (only those answered with HTTP `status`)."""
        return sum(1 for c in self.calls_to(method) if status in (None, c.status))

    def wait_for(self, predicate: Callable[[], Any], timeout: float = WAIT,
                 interval: float = 0.02, message: str = "") -> Any:
        """Poll predicate until it returns something truthy and return that.

        On timeout raise AssertionError naming the condition, with the recent
        calls and the transcript, so a failing test shows what the bot did."""
        deadline = time.monotonic() + scaled(timeout)
        value = None
        while True:
            try:
                value = predicate()
            except (KeyError, IndexError, LookupError) as exc:  # not there yet
                value = None
                last_error: Optional[BaseException] = exc
            else:
                last_error = None
            if value:
                return value
            if time.monotonic() >= deadline:
                break
            time.sleep(interval)
        what = message or _describe(predicate)
        recent = "\n".join(f"  {c.method} -> {c.status}" for c in self.calls[-15:])
        raise AssertionError(
            f"timed out after {scaled(timeout)}s waiting for: {what}\n"
            f"last value: {value!r}" + (f" (raised {last_error!r})" if last_error else "") +
            f"\nrecent calls:\n{recent or '  (none)'}\n--- transcript ---\n{self.transcript()}")

    def transcript(self) -> str:
        """Readable dump of every channel, thread, ephemeral, modal and Home tab."""
        from .transcript import render_transcript
        with self.lock:
            return render_transcript(self)


def _describe(predicate: Callable) -> str:
    try:
        return inspect.getsource(predicate).strip()
    except (OSError, TypeError):
        return getattr(predicate, "__name__", repr(predicate))
