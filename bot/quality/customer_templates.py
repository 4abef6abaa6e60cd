"""The customer-facing texts (acknowledgment, progress, resolution), which operators may
replace with their own (`customer_templates: DIR` in the policy).

A template is the text of one Slack message in mrkdwn: `*bold*`, `_italic_`, links the
operator writes (`<https://status.example.com|status page>`) pass as written, while every
`{{ placeholder }}` is escaped for mrkdwn on output, whatever filters it went through, so a
customer's or agent's text can never ping `@channel` or hide a link. Templates run in
Jinja's sandbox and see only the placeholders below (plain strings), never our objects.
A missing file in DIR falls back to the built-in one (templates/customer/).
"""
from __future__ import annotations

import functools
import traceback
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

import templates as templates_package
from bot.rendering import Mrkdwn, escape_mrkdwn

BUILT_IN = Path(templates_package.__file__).parent / "customer"
SUFFIX = ".j2"

COMMON = {
    "key": "the ticket's key, e.g. ESC-12",
    "summary": "the ticket's summary (as the agent wrote it)",
    "customer": "the customer's name (may be empty)",
    "severity": "P1 … P4",
    "severity_label": "the severity in words, e.g. P2 — Major functionality broken",
    "level_name": "the level working on it now, e.g. Tier 2",
    "update_every": "how often the customer hears from us, e.g. 2h (empty for P4)",
}
PLACEHOLDERS: dict[str, dict[str, str]] = {
    "acknowledgment": {**COMMON, "respond_by": "when the first response is due, e.g. Fri 04 Dec 15:00 CET"},
    "progress": {**COMMON,
                 "latest_note": "the latest note in the ticket's threads (empty if none)",
                 "waiting_on_customer": "yes when we wait on the customer, else empty",
                 "next_update_by": "when the next update is due, e.g. Fri 04 Dec 17:00 CET (empty for P4)"},
    "resolution": {**COMMON,
                   "resolution": "what resolved it, as the resolver wrote it",
                   "root_cause": "the root cause category, e.g. Configuration",
                   "resolved_at": "when it was resolved, e.g. Fri 04 Dec 16:42 CET"},
}
NAMES = tuple(PLACEHOLDERS)

# What `policy check` renders each template with: hostile text included, to show it escaped.
SAMPLE = {
    "key": "ESC-42", "summary": "Exports time out for <!channel> & friends", "customer": "ACME GmbH",
    "severity": "P2", "severity_label": "P2 — Major functionality broken", "level_name": "Tier 2",
    "update_every": "2h", "respond_by": "Fri 04 Dec 15:00 CET", "latest_note": "Found the slow query; a fix is being tested.",
    "waiting_on_customer": "", "next_update_by": "Fri 04 Dec 17:00 CET",
    "resolution": "Added an index; exports finish in 3 s.", "root_cause": "Bug", "resolved_at": "Fri 04 Dec 16:42 CET",
}


class CustomerTemplateError(Exception):
    """A template failed to load or render; the message names the file, the line and why."""


def _escape_on_output(value: Any) -> str:
    # Markup (`|safe`) is a str too: escaped like anything else; nothing opts out
    return "" if value is None else escape_mrkdwn(str(value))


@functools.lru_cache(maxsize=8)
def _environment(directory: str | None) -> ImmutableSandboxedEnvironment:
    search = [directory, str(BUILT_IN)] if directory else [str(BUILT_IN)]
    return ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(search), autoescape=False, finalize=_escape_on_output,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, auto_reload=False,
    )


def render(directory: str | None, name: str, values: dict[str, str]) -> Mrkdwn:
    """The message text (mrkdwn) of customer template `name` with `values`."""
    if name not in PLACEHOLDERS:
        raise ValueError(f"unknown customer template {name!r}")
    filename = name + SUFFIX
    environment = _environment(directory)
    try:
        template = environment.get_template(filename)
        text = template.render({key: values.get(key, "") or "" for key in PLACEHOLDERS[name]})
    except jinja2.TemplateSyntaxError as error:
        raise CustomerTemplateError(f"{_where(error.filename or filename)} line {error.lineno}: {error.message}") \
            from None
    except Exception as error:  # undefined placeholder, sandbox refusal, a filter given the wrong thing
        template_file = _template_file(environment, filename)
        line = _line_in(error, template_file)
        at = f" line {line}" if line else ""
        raise CustomerTemplateError(f"{_where(template_file)}{at}: {error}") from None
    text = text.strip()
    if not text:
        raise CustomerTemplateError(f"{_where(_template_file(environment, filename))}: renders to an empty message")
    return Mrkdwn(text)


def check(directory: str) -> list[str]:
    """Problems with the templates in `directory`, each naming its file ("" for none): every
    template, theirs or built-in, is rendered with a sample ticket."""
    folder = Path(directory)
    if not folder.is_dir():
        return [f"customer_templates: no such directory: {directory}"]
    problems = [f"customer_templates: {path}: unknown template (expected {', '.join(n + SUFFIX for n in NAMES)})"
                for path in sorted(folder.glob("*" + SUFFIX)) if path.stem not in PLACEHOLDERS]
    _environment.cache_clear()  # a check reads the files as they are now
    for name in NAMES:
        try:
            render(directory, name, SAMPLE)
        except CustomerTemplateError as error:
            problems.append(f"customer_templates: {error}")
    _environment.cache_clear()
    return problems


def _template_file(environment: jinja2.Environment, filename: str) -> str:
    try:
        source = environment.loader.get_source(environment, filename)  # type: ignore[union-attr]
        return source[1] or filename
    except jinja2.TemplateNotFound:
        return filename


def _where(path: str) -> str:
    return path


def _line_in(error: BaseException, template_file: str) -> int | None:
    """The template line of the innermost traceback frame Jinja mapped to the file."""
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == template_file:
            line = frame.lineno
    return line


def ticket_values(ticket, policy) -> dict[str, str]:
    """The placeholders every customer template has, from a ticket (bot.models.Ticket)."""
    from bot.durations import format_duration
    from bot.vocabulary import SEVERITY_LABELS

    severity = policy.severities.get(ticket.severity)
    return {
        "key": ticket.key, "summary": ticket.summary or "", "customer": ticket.customer or "",
        "severity": ticket.severity, "severity_label": SEVERITY_LABELS.get(ticket.severity, ticket.severity),
        "level_name": policy.level_name(ticket.level),
        "update_every": format_duration(severity.update_every) if severity and severity.update_every else "",
    }
