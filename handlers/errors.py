"""One place that turns our typed errors into a friendly answer where the person is.

Every listener is wrapped by `friendly`: an EscalatorError becomes an ephemeral
reply (commands, buttons, shortcuts) or an inline modal error (submissions; a
Conflict there closes the modal and answers ephemerally where the person started);
anything unexpected is logged with a reference and answered politely. Nothing
is raised back into Bolt after the ack (see the Slack README's pitfalls).
"""
from __future__ import annotations

import functools
import logging
import uuid

from slack_bolt.error import BoltUnhandledRequestError
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.errors import Conflict, EscalatorError, InvalidInput
from bot.http.payloads import describe
from bot.rendering import Mrkdwn, escape_mrkdwn
from bot.slack_errors import classify

log = logging.getLogger("escalator.handlers")

UNEXPECTED = ("Something went wrong on our side. Check `/escalate list mine` to see whether it went through "
              "before you try again; if it keeps happening, give your Escalator admin this reference: `{ref}`.")


def friendly(listener):
    """Wrap a listener taking (ack, body, client, respond, context)."""

    @functools.wraps(listener)
    def wrapper(ack, body, client, respond, context):
        try:
            listener(ack, body, client, respond, context)
        except EscalatorError as error:
            _answer(error, ack, body, client, respond, context)
        except SlackApiError as failure:  # e.g. a trigger_id that expired: Slack's answer says it all
            ref = uuid.uuid4().hex[:8]
            log.warning("listener %s: Slack refused %s: %s (ref %s)", listener.__name__,
                        failure.response.api_url.rsplit("/", 1)[-1], classify(failure), ref)
            _answer(EscalatorError(UNEXPECTED.format(ref=ref)), ack, body, client, respond, context)
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("listener %s failed (ref %s)", listener.__name__, ref)
            _answer(EscalatorError(UNEXPECTED.format(ref=ref)), ack, body, client, respond, context)

    wrapper.__signature__ = None  # Bolt reads parameter names from the wrapper itself
    del wrapper.__wrapped__
    return wrapper


def _answer(error: EscalatorError, ack, body, client, respond, context) -> None:
    text = Mrkdwn(str(error)) if not isinstance(error, InvalidInput) else Mrkdwn(escape_mrkdwn(str(error)))
    try:
        if body.get("type") == "view_submission":
            started_in = context["ticket_context"].channel if "ticket_context" in context else None
            if (isinstance(error, Conflict) or ack.response is not None) and started_in:
                # someone else changed the ticket (the form is moot), or the submission was
                # accepted and something after it failed: the modal closes and the person is
                # told where they started
                if ack.response is None:
                    ack()
                client.chat_postEphemeral(channel=started_in, user=body["user"]["id"], **messages.notice(text))
                return
            if ack.response is not None:
                log.warning("after an accepted submission, could not tell the user: %s", error)
                return
            errors = error.errors if isinstance(error, InvalidInput) else {_last_input(body["view"]): str(error)}
            ack(response_action="errors", errors=errors)
            return
        reply = messages.notice(text)
        if ack.response is None:
            if "command" in body:  # a slash command's ack body is the ephemeral answer
                ack(**reply)
                return
            ack()
        if body.get("response_url") or (body.get("response_urls") or []):
            respond(response_type="ephemeral", replace_original=False, **reply)
        else:
            channel = (body.get("channel") or {}).get("id") or body["user"]["id"]
            client.chat_postEphemeral(channel=channel, user=body["user"]["id"], **reply)
    except (SlackApiError, OSError) as failure:  # Slack refused (the channel is gone) or couldn't be reached
        log.warning("could not tell the user about: %s (%s)", error, classify(failure))
    except Exception:
        log.exception("could not tell the user about: %s", error)


def bolt_error(error, body):
    """Bolt's global error handler. A request no listener matched (an unknown command, type,
    callback_id or action_id) is answered 404 as Bolt does, with one warning naming its kind;
    anything else that reached Bolt is a bug in our code and keeps its traceback (500)."""
    if isinstance(error, BoltUnhandledRequestError):
        log.warning("no listener for a %s request; answered 404", describe(body))
        return
    log.error("Bolt failed on a %s request", describe(body), exc_info=error)


def _last_input(view: dict) -> str:
    inputs = [block["block_id"] for block in view.get("blocks", []) if block.get("type") == "input"]
    return inputs[-1] if inputs else "summary"
