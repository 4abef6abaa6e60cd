"""Members of the Slack user groups a policy names (`members`, on-call rotations,
overflow pools), read with usergroups.users.list and stored in the database.

The stored roster is what permissions, round robin, mentions and the App Home use
(through Policy.members_of). It is refreshed on `subteam_members_changed` events and
every 10 minutes; when Slack can't be reached the last known roster stays in force
(and that is logged). Each process keeps a copy it reads again from the database
every few seconds, so a refresh made by one process reaches the others quickly.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.db import locked_row, transaction
from bot.models import UsergroupRoster, utcnow
from bot.policy import Policy
from bot.policy.coverage_fields import all_groups

log = logging.getLogger("escalator.coverage")

REFRESH_EVERY = timedelta(minutes=10)
RELOAD_AFTER_SECONDS = 5.0  # how stale this process's copy of the stored rosters may get


class RosterCache:
    """This process's copy of the stored rosters: group id → member ids."""

    def __init__(self, sessions: sessionmaker[Session], reload_after: float = RELOAD_AFTER_SECONDS):
        self.sessions = sessions
        self.reload_after = reload_after
        self._members: dict[str, tuple[str, ...]] = {}
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def members(self, group_id: str) -> tuple[str, ...]:
        loaded_at = self._loaded_at
        if loaded_at is None or time.monotonic() - loaded_at > self.reload_after:
            self.reload()
        return self._members.get(group_id, ())

    def reload(self) -> None:
        with self._lock, self.sessions() as session:
            rows = session.execute(select(UsergroupRoster.group_id, UsergroupRoster.members)).all()
            self._members = {group: tuple(members or ()) for group, members in rows}
            self._loaded_at = time.monotonic()


class RosterSync:
    """Reads user groups from Slack into the database."""

    def __init__(self, policy: Policy, sessions: sessionmaker[Session], client: WebClient, cache: RosterCache):
        self.policy = policy
        self.sessions = sessions
        self.client = client
        self.cache = cache
        self.groups = all_groups(policy.levels)

    def refresh_all(self) -> dict[str, bool]:
        """Every group the policy names; group → whether Slack answered."""
        return {group: self.refresh(group) for group in sorted(self.groups)}

    def refresh(self, group_id: str) -> bool:
        members = self._ask_slack(group_id)
        if members is None:
            return False
        self._store(group_id, members)
        return True

    def members_changed(self, event: dict) -> bool:
        """A `subteam_members_changed` event: read the group again; if Slack can't be
        reached, apply the change the event describes to the stored roster."""
        group_id = str(event.get("subteam_id") or "")
        if group_id not in self.groups:
            return False
        if self.refresh(group_id):
            return True
        added = [str(user) for user in event.get("added_users") or []]
        removed = set(str(user) for user in event.get("removed_users") or [])
        with self.sessions() as session:
            stored = session.get(UsergroupRoster, group_id)
            known = list(stored.members) if stored else []
        members = [user for user in known if user not in removed]
        members += [user for user in added if user not in members]
        self._store(group_id, members)
        log.info("user group %s: applied the event's change (%d added, %d removed)", group_id, len(added),
                 len(removed))
        return True

    def _ask_slack(self, group_id: str) -> list[str] | None:
        try:
            answer = self.client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            log.warning("user group %s: Slack refused usergroups.users.list (%s); keeping the last known "
                        "members (%d)", group_id, exc.response.get("error"), len(self.cache.members(group_id)))
            return None
        except (SlackClientError, OSError) as exc:
            log.warning("user group %s: Slack can't be reached (%s); keeping the last known members (%d)",
                        group_id, type(exc).__name__, len(self.cache.members(group_id)))
            return None
        return [str(user) for user in answer.get("users") or []]

    def _store(self, group_id: str, members: list[str]) -> None:
        with transaction(self.sessions) as session:
            roster = locked_row(session, UsergroupRoster, group_id, group_id=group_id, members=members,
                                refreshed_at=utcnow())
            roster.members, roster.refreshed_at = members, utcnow()
        self.cache.reload()
