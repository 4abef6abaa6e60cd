"""Every message and view the bot sends, rendered from templates/."""
from __future__ import annotations

from datetime import datetime, timedelta

from bot.context import ActionContext
from bot.durations import format_duration
from bot.ids import ActionId, CallbackId
from bot.listing import TicketPage
from bot.models import Ticket, TicketEvent
from bot.outbox import LINK_PLACEHOLDER
from bot.policy import Policy
from bot.quality import customer_templates
from bot.rendering import Mrkdwn, escape_mrkdwn, render
from bot.routing import management_reasons
from bot.vocabulary import (AUTOMATIC_TRIGGERS, COMPLEXITIES, FLAGS, IMPACTS, SEVERITY_LABELS, STATUS_LABELS,
                            TICKET_FLAGS, TRIGGERS)

LINK_OPEN = Mrkdwn(LINK_PLACEHOLDER)
_FACT_CHOICES = {"severities": SEVERITY_LABELS, "impacts": IMPACTS, "complexities": COMPLEXITIES}  # modal selects  # followed by a label and ">" in templates


def ticket_flags(ticket: Ticket) -> list[str]:
    return [label for key, label in TICKET_FLAGS.items() if getattr(ticket, key)]


def local_time(moment: datetime, policy: Policy) -> str:
    return moment.astimezone(policy.timezone).strftime("%a %d %b %H:%M %Z")


def trigger_label(trigger: str | None) -> str:
    return TRIGGERS.get(trigger or "") or AUTOMATIC_TRIGGERS.get(trigger or "") or (trigger or "")


def briefing(ticket: Ticket, level: str, policy: Policy, came_from: TicketEvent | None = None,
             *, linked: bool = False, notes: list[tuple[str, str, str]] = (),
             response_due: datetime | None = None, handoffs: int = 0, overflow: str | None = None) -> dict:
    current = ticket.level == level
    if not ticket.is_active:
        status = f"Resolved {local_time(ticket.resolved_at, policy)}" if ticket.resolved_at else "Resolved"
    elif not current:
        status = f"Moved to {policy.level_name(ticket.level)}"
    elif ticket.status == "waiting":
        status = "Waiting on the customer (SLA clocks paused)"
    elif ticket.status == "acknowledged":
        status = f"Acknowledged by {Mrkdwn(f'<@{ticket.acknowledged_by}>')}"
    else:
        status = "Waiting for acknowledgment"
    came = None
    if came_from is not None:
        came = {
            "verb": "De-escalated" if came_from.kind == "deescalated" else "Escalated",
            "from_name": policy.level_name(came_from.from_level or ""),
            "actor_id": came_from.actor_id,
            "trigger_label": trigger_label(came_from.trigger),
            "reason": came_from.reason or "",
            "has_link": linked,
            "link": LINK_OPEN,
        }
    return render(
        "briefing.json.j2",
        ticket=ticket,
        level_name=policy.level_name(level),
        labels={
            "severity": SEVERITY_LABELS[ticket.severity],
            "impact": IMPACTS.get(ticket.impact, ticket.impact),
            "complexity": COMPLEXITIES.get(ticket.complexity, ticket.complexity),
            "flags": ", ".join(ticket_flags(ticket)),
        },
        came_from=came,
        notes=list(notes),
        sla_line=_sla_line(response_due, policy) if current and ticket.is_active else None,
        handoffs=handoffs,
        overflow=overflow if current else None,
        current=current,
        status_line=Mrkdwn(escape_mrkdwn(status)) if "<@" not in status else Mrkdwn(status),
        actions=ActionId,
        can_escalate=bool(policy.escalation_targets(level)),
        can_deescalate=bool(policy.deescalation_targets(level)),
        can_take=policy.levels[level].assignment == "take" and not ticket.assignee_id if level in policy.levels else False,
        can_mitigate=level == "tier3" and policy.mitigated_to in policy.deescalation_targets(level),
        context=ActionContext(ticket_id=ticket.id, level=level).encode(),
    )


def thread_note(text: Mrkdwn) -> dict:
    return render("thread_note.json.j2", note=text)


def leadership_ping(ticket: Ticket, policy: Policy, audience: str, reasons: list[str], *, linked: bool) -> dict:
    """Management or the executive level asked to look: audience is the level key."""
    return render(
        "leadership_ping.json.j2",
        ticket=ticket,
        members=policy.members_of(audience),
        audience=policy.level_name(audience).lower(),
        reasons=reasons,
        customer=bool(ticket.customer),
        level_name=policy.level_name(ticket.level),
        briefing_link=LINK_OPEN if linked else None,
    )


def new_escalation_modal(policy: Policy, context: ActionContext, prefill_summary: str = "") -> dict:
    return render(
        "modals/new_escalation.json.j2",
        callback_id=CallbackId.NEW_ESCALATION_MODAL,
        metadata=context.encode(),
        prefill={"summary": prefill_summary, "permalink": context.permalink},
        revenue_threshold=policy.revenue_threshold,
        options={**_FACT_CHOICES, "flags": FLAGS},
    )


def escalate_modal(ticket: Ticket, policy: Policy, context: ActionContext,
                   suggestion: tuple[str | None, str] = (None, "")) -> dict:
    suggested, why = suggestion
    targets = [(key, policy.level_name(key)) for key in policy.escalation_targets(ticket.level, suggested)]
    next_level = policy.next_level(ticket.level)
    initial = next((t for t in targets if t[0] == next_level), targets[0] if targets else None)
    return render(
        "modals/escalate.json.j2",
        callback_id=CallbackId.ESCALATE_MODAL,
        metadata=context.encode(),
        ticket=ticket,
        level_name=policy.level_name(ticket.level),
        targets=targets,
        initial=initial,
        triggers=TRIGGERS,
        suggested_name=policy.level_name(suggested) if suggested else None,
        suggested_why=why,
    )


def resolve_modal(ticket: Ticket, policy: Policy, context: ActionContext) -> dict:
    return render("modals/resolve.json.j2", callback_id=CallbackId.RESOLVE_MODAL,
                  metadata=context.encode(), ticket=ticket, root_causes=policy.root_causes)


def help_reply(policy: Policy, problem: Mrkdwn | None = None) -> dict:
    return render("replies/help.json.j2", problem=problem, level_keys=list(policy.levels))


def notice(text: Mrkdwn | str) -> dict:
    return render("replies/notice.json.j2", text=text)


def status_reply(ticket: Ticket, policy: Policy, briefing_permalink: str | None) -> dict:
    history = [(local_time(event.at, policy), describe_event(event, policy)) for event in ticket.events]
    return render(
        "replies/status.json.j2",
        ticket=ticket,
        level_name=policy.level_name(ticket.level),
        status_label=STATUS_LABELS.get(ticket.status, ticket.status),
        briefing_link=Mrkdwn(f"<{briefing_permalink}|") if briefing_permalink else None,
        history=history[-30:],
    )


def list_reply(listing: TicketPage, policy: Policy) -> dict:
    rows = [(t, policy.level_name(t.level), STATUS_LABELS.get(t.status, t.status)) for t in listing.tickets]
    turn = lambda page: ActionContext(scope=listing.scope or None, page=page).encode()  # noqa: E731
    return render("replies/list.json.j2", listing=listing, rows=rows, actions=ActionId,
                  previous=turn(listing.page - 1), next=turn(listing.page + 1))


def describe_event(event: TicketEvent, policy: Policy) -> Mrkdwn:
    """One history line, in mrkdwn, with user text escaped."""
    who = f"<@{event.actor_id}>" if event.actor_id else "Escalator"
    reason = f": {escape_mrkdwn(event.reason)}" if event.reason else ""
    to_name = escape_mrkdwn(policy.level_name(event.to_level or ""))
    from_name = escape_mrkdwn(policy.level_name(event.from_level or ""))
    trigger = trigger_label(event.trigger)
    text = {
        "opened": f"opened by {who}, routed to {to_name}{reason}",
        "acknowledged": f"acknowledged at {from_name} by {who}",
        "escalated": f"escalated {from_name} → {to_name} by {who} ({trigger}){reason}",
        "deescalated": f"de-escalated {from_name} → {to_name} by {who}{reason}",
        "reopened": f"reopened at {to_name} by {who}",
        "paused": f"waiting on customer ({who}){reason}",
        "resumed": f"resumed by {who}{reason}",
        "resolved": f"resolved by {who}{reason}",
        "management_pinged": f"management told{reason}",
        "executive_pinged": f"executive level told{reason}",
        "facts_changed": f"facts updated by {who}{reason}",
        "customer_notified": f"customer told{reason}",
        "customer_updated": f"customer updated by {who}{reason}",
        "csat_answered": f"customer satisfaction{reason}",
        "overflowed": (f"given to the overflow pool of {to_name}{reason}" if event.from_level == event.to_level
                       else f"sent to {to_name} instead of {from_name}{reason}"),
    }.get(event.kind, f"{escape_mrkdwn(event.kind)} by {who}")
    return Mrkdwn(text)


def _sla_line(due: datetime | None, policy: Policy) -> str | None:
    if due is None:
        return None
    left = due - datetime.now(due.tzinfo)
    when = local_time(due, policy)
    return f"response due {when} ({format_duration(left)} left)" if left.total_seconds() > 0 \
        else f"response breached {when}"


def opened_confirmation(ticket: Ticket, policy: Policy, customer_note: dict | None = None) -> dict:
    """customer_note: {"channel": id} when it went to the customer's channel, else {"draft": text}."""
    return render(
        "modals/opened.json.j2",
        ticket=ticket,
        level_name=policy.level_name(ticket.level),
        channel=policy.level(ticket.level).channel,
        reasons=list(management_reasons(ticket, policy).values()),
        customer_note=customer_note or {},
    )


def handoff_reply(ticket: Ticket, policy: Policy, customer_note: dict) -> dict:
    return render("replies/handoff.json.j2", ticket=ticket, level_name=policy.level_name(ticket.level),
                  channel=policy.level(ticket.level).channel, customer_note=customer_note)


def customer_update(ticket: Ticket, policy: Policy, respond_by: datetime | None) -> dict:
    """The acknowledgment with the expected timeline (the policy's customer templates)."""
    severity = policy.severities[ticket.severity]
    values = {**customer_templates.ticket_values(ticket, policy),
              "respond_by": local_time(respond_by, policy) if respond_by
              else f"within {format_duration(severity.response)}"}
    return customer_message(customer_templates.render(policy.customer_templates, "acknowledgment", values),
                            f"Update on your request {ticket.key}")


def customer_message(text: Mrkdwn, fallback: str, survey: dict | None = None) -> dict:
    """A message to the customer's channel: a customer template's text, and for the
    resolution confirmation the satisfaction question (bot.quality.csat)."""
    return render("customer/message.json.j2", text=text, fallback=fallback, survey=survey)


def wait_modal(ticket: Ticket, context: ActionContext) -> dict:
    return render("modals/reason.json.j2", callback_id=CallbackId.WAIT_MODAL, metadata=context.encode(),
                  ticket=ticket, title="Waiting on customer", submit="Pause clocks", label="Reason",
                  optional=False, placeholder="What we asked the customer for")


def resume_modal(ticket: Ticket, context: ActionContext) -> dict:
    return render("modals/reason.json.j2", callback_id=CallbackId.RESUME_MODAL, metadata=context.encode(),
                  ticket=ticket, title=f"Resume {ticket.key}", submit="Resume", label="Reason",
                  optional=True, placeholder="What the customer answered")


def deescalation_note(text: Mrkdwn, ticket: Ticket, event: TicketEvent, window: timedelta) -> dict:
    return render("deescalation_note.json.j2", text=text, undo_action=ActionId.UNDO,
                  context=ActionContext(ticket_id=ticket.id, event_id=event.id).encode(),
                  window=format_duration(window))


def deescalate_modal(ticket: Ticket, policy: Policy, context: ActionContext) -> dict:
    targets = [(key, policy.level_name(key)) for key in policy.deescalation_targets(ticket.level)]
    return render("modals/deescalate.json.j2", callback_id=CallbackId.DEESCALATE_MODAL,
                  metadata=context.encode(), ticket=ticket, level_name=policy.level_name(ticket.level),
                  targets=targets)


def facts_modal(ticket: Ticket, policy: Policy, context: ActionContext) -> dict:
    revenue = ticket.revenue_at_risk
    return render(
        "modals/facts.json.j2", callback_id=CallbackId.FACTS_MODAL, metadata=context.encode(), ticket=ticket,
        level_name=policy.level_name(ticket.level),
        options={**_FACT_CHOICES, "flags": TICKET_FLAGS},
        current={"severity": ticket.severity, "impact": ticket.impact, "complexity": ticket.complexity},
        revenue=f"{revenue.normalize():f}" if revenue is not None else "",
        flags=[(flag, label) for flag, label in TICKET_FLAGS.items() if getattr(ticket, flag)],
        revenue_threshold=policy.revenue_threshold, executive_revenue_threshold=policy.executive_revenue_threshold,
    )


def reassign_modal(ticket: Ticket, policy: Policy, context: ActionContext) -> dict:
    return render("modals/reassign.json.j2", callback_id=CallbackId.REASSIGN_MODAL, metadata=context.encode(),
                  ticket=ticket, level_name=policy.level_name(ticket.level))


def customer_update_modal(ticket: Ticket, context: ActionContext, message: str, channel: str | None) -> dict:
    return render("modals/customer_update.json.j2", callback_id=CallbackId.CUSTOMER_UPDATE_MODAL,
                  metadata=context.encode(), ticket=ticket, message=message, channel=channel)


def customer_note_reply(headline: Mrkdwn, customer_note: dict, hint: Mrkdwn | None = None) -> dict:
    """customer_note: {"channel": id} when the customer is told there, else {"draft": text}."""
    return render("replies/customer_note.json.j2", headline=headline, customer_note=customer_note, hint=hint)
