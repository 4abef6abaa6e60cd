"""User groups in the fake Slack: usergroups.users.list, and tests changing a group's
members (the driver then delivers Slack's `subteam_members_changed` event)."""

from __future__ import annotations

from typing import Optional

from .methods import api, truthy
from .models import SlackApiFault


class UsergroupMethods:
    # Provided by FakeSlack: lock, team_id; usergroups maps a group id to its member ids.
    usergroups: dict[str, list[str]]

    def set_usergroup(self, group_id: str, members: list[str]) -> dict:
        """Create the group or replace its members; returns what changed, as the event says it."""
        with self.lock:
            before = self.usergroups.get(group_id, [])
            self.usergroups[group_id] = list(members)
            return {"added_users": [u for u in members if u not in before],
                    "removed_users": [u for u in before if u not in members]}

    def usergroup_members(self, group_id: str) -> Optional[list[str]]:
        with self.lock:
            members = self.usergroups.get(group_id)
            return list(members) if members is not None else None

    @api("usergroups.users.list")
    def _api_usergroups_users_list(self, p: dict) -> dict:
        group = p.get("usergroup")
        if not group:
            raise SlackApiFault("invalid_arguments")
        if group not in self.usergroups:
            raise SlackApiFault("no_such_subteam")
        truthy(p.get("include_disabled"))  # accepted; the fake has no disabled groups
        return {"users": list(self.usergroups[group])}
