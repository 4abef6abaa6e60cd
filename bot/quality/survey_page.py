"""The survey page, `GET|POST /csat/<token>` on `escalator serve --http`.

GET shows the ticket's key and summary and five buttons in a plain HTML form (no
JavaScript); only POST records, so a link preview or a prefetch never votes. A token that
is forged, altered, expired or names no resolution we know gets a 404 page and nothing is
recorded. Pages come from templates/web/ with HTML autoescaping on. The routes sit in the
server's hardened ASGI app (bot.http): body cap, timeouts, 404/405 like every route.
"""
from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import parse_qs

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

import templates as templates_package
from bot import messages
from bot.errors import EscalatorError, InvalidInput
from bot.models import utcnow
from bot.quality.csat import CHANGE_WINDOW, AnswerClosed, Csat
from bot.quality.resolutions import SCORE_LABELS, question
from bot.quality.survey_tokens import SurveyLinks

log = logging.getLogger("escalator.survey")

_PAGES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(templates_package.__file__).parent / "web"),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, auto_reload=False)
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token must not leak to a link's site
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'",
}


def survey_routes(csat: Csat, links: SurveyLinks) -> list[Route]:
    policy = csat.policy

    def page(name: str, status: int = 200, **context) -> HTMLResponse:
        return HTMLResponse(_PAGES.get_template(name).render(**context), status_code=status, headers=_HEADERS)

    def not_found() -> HTMLResponse:
        return page("message.html", 404, title="Survey not found",
                    text="This survey link is not valid or has expired. Nothing was recorded.")

    def show(token: str, ticket_id: int, resolution: int) -> HTMLResponse:
        found = csat.survey(ticket_id, resolution)
        if found is None:
            return not_found()
        ticket, response = found
        now = utcnow()
        until = messages.local_time(response.first_answered_at + CHANGE_WINDOW, policy) if response else ""
        return page("survey.html", title=f"{ticket.key}: your feedback", question=question(ticket.key),
                    ticket_key=ticket.key, summary=ticket.summary, scores=list(SCORE_LABELS.items()),
                    current=response.score if response else None, changeable=csat.changeable(response, now),
                    until=until, action=token)

    def record(token: str, ticket_id: int, resolution: int, body: bytes) -> HTMLResponse:
        try:
            fields = parse_qs(body.decode("utf-8"), max_num_fields=10, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            fields = {}
        chosen = fields.get("score", [""])
        score = int(chosen[0]) if len(chosen) == 1 and chosen[0] in ("1", "2", "3", "4", "5") else 0
        if csat.survey(ticket_id, resolution) is None:
            return not_found()
        try:
            answer = csat.answer_on_web(ticket_id, resolution, score)
        except InvalidInput:
            return page("message.html", 400, title="Choose a score",
                        text="Choose a score from 1 to 5 on the survey page. Nothing was recorded.")
        except AnswerClosed as closed:
            return page("message.html", 409, title="Already answered", text=str(closed))
        except EscalatorError:  # the ticket went away meanwhile
            return not_found()
        return page("thanks.html", title="Thank you", ticket_key=answer.ticket_key, score=answer.score,
                    label=SCORE_LABELS[answer.score], until=messages.local_time(answer.changeable_until, policy),
                    back=token)

    async def survey(request: Request) -> Response:
        token = request.path_params["token"]
        read = links.read(token, utcnow())
        if read is None:
            log.info("survey: refused a token that is malformed, forged or expired")
            body = await request.body() if request.method == "POST" else b""
            del body  # read (within the cap) so the connection stays usable; never looked at
            return not_found()
        if request.method == "POST":
            body = await request.body()
            return await run_in_threadpool(record, token, read.ticket_id, read.resolution, body)
        return await run_in_threadpool(show, token, read.ticket_id, read.resolution)

    return [Route("/csat/{token}", survey, methods=["GET", "POST"])]
