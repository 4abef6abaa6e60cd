"""POST /slack/events: verify, then parse, then let Bolt route.

1. The signature is checked on the raw bytes, in the event loop (an HMAC of at most
   the body cap): an unsigned, stale or forged request is answered 401 and nothing
   parses it or waits in the thread pool for it.
2. In the thread pool (Bolt's dispatch is synchronous; the loop keeps accepting):
   the body is decoded and parsed (Bolt's own parser), its shape checked
   (bot.http.payloads), and only then dispatched. A body that fails either step is
   answered 400 and logged once, as a warning naming its kind and the problem.
"""
from __future__ import annotations

import logging

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.starlette.handler import to_starlette_response
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.http import payloads
from bot.http.verification import SlackSignature

log = logging.getLogger("escalator.http")


def slack_events_endpoint(app: App, signature: SlackSignature):
    def dispatch(request: Request, body: bytes) -> BoltResponse:
        try:
            bolt_request = BoltRequest(body=body.decode("utf-8"), query=request.query_params,  # type: ignore[arg-type]
                                       headers=request.headers)  # type: ignore[arg-type]
        except UnicodeDecodeError:
            return malformed("unknown kind", "the body is not UTF-8")
        except ValueError:
            return malformed("unknown kind", "the body is not JSON (or a form with a JSON payload)")
        except (TypeError, AttributeError, KeyError, IndexError):  # Bolt read fields of something else
            return malformed("unknown kind", "the body is not a JSON object with Slack's fields")
        problem = payloads.problem(bolt_request.body)
        if problem:
            return malformed(payloads.describe(bolt_request.body), problem)
        return app.dispatch(bolt_request)

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        if not signature.is_valid(body, request.headers):
            log.info("refused a request to %s without a valid Slack signature", request.url.path)
            return PlainTextResponse("invalid or missing Slack signature", status_code=401)
        return to_starlette_response(await run_in_threadpool(dispatch, request, body))

    return slack_events


def malformed(kind: str, problem: str) -> BoltResponse:
    log.warning("refused a signed but malformed Slack request (%s): %s", kind, problem)
    return BoltResponse(status=400, body="malformed Slack request")
