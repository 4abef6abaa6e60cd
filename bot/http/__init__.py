"""The public HTTP endpoint's guard rails, shared by every route the bot serves.

`hardened(routes, max_body=...)` is the ASGI app uvicorn runs. Every route in it gets:
- request bodies capped (413 past `max_body`, before reading what a Content-Length
  announces; a chunked body cut as it streams) and bounded in time (408), see limits;
- 404 for an unknown path and 405 for a wrong method, plain text, no traceback;
- request heads bounded in size and time by the uvicorn protocol in protocol
  (`uvicorn_options()`), and uvicorn's own concurrency and keep-alive limits.

To add a route (a survey page, /metrics): put a `starlette.routing.Route` in the list
`bot.server.create_asgi_app` passes here. It reads its body with `await request.body()`
(or streams it) and inherits the cap; it must answer bad input with a 4xx itself.
Slack's requests additionally pass bot.http.verification before anything parses them
(bot.http.slack_events); a route Slack calls should use the same check.
"""
from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware

from bot.http.limits import DEFAULT_MAX_BODY, RequestLimits
from bot.http.protocol import GuardedHttpProtocol

LIMIT_CONCURRENCY = 200  # connections + requests in flight; past it uvicorn answers 503
TIMEOUT_KEEP_ALIVE = 5  # seconds an idle kept-alive connection stays open
BACKLOG = 512


def hardened(routes, *, max_body: int = DEFAULT_MAX_BODY) -> Starlette:
    return Starlette(routes=routes, middleware=[Middleware(RequestLimits, max_body=max_body)])


def uvicorn_options() -> dict:
    """uvicorn.Config arguments for the public endpoint (serve --http, and the test server)."""
    return {"http": GuardedHttpProtocol, "limit_concurrency": LIMIT_CONCURRENCY,
            "timeout_keep_alive": TIMEOUT_KEEP_ALIVE, "backlog": BACKLOG,
            "access_log": False, "log_config": None, "server_header": False,
            "ws": "none"}  # no WebSocket upgrades on the public port (websockets is installed for Socket Mode)
