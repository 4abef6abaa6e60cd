"""The production HTTP endpoint: POST /slack/events, GET /healthz and GET /metrics under uvicorn.

Bolt's dispatch is synchronous; it runs in Starlette's thread pool so the event
loop keeps accepting requests while a listener waits on the database. Bolt's parse
of the body (url-decoding a 4 KB interaction payload is ~0.3 ms) happens in that
thread too, in the same hop: the event loop only reads bytes, checks signatures and
writes answers. Body caps, timeouts and the answers to bad input: bot/http.
"""
from __future__ import annotations

import contextlib
import logging
import signal

from slack_bolt import App
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.http import hardened, uvicorn_options
from bot.http.slack_events import slack_events_endpoint
from bot.http.verification import SlackSignature
from bot.metrics import CONTENT_TYPE_LATEST
from bot.runtime import Runtime

log = logging.getLogger("escalator.server")


def create_asgi_app(runtime: Runtime, app: App) -> Starlette:
    slack_events = slack_events_endpoint(app, SlackSignature(runtime.settings.signing_secret))
    routes = [Route("/slack/events", slack_events, methods=["POST"]), *operations_routes(runtime)]
    if runtime.survey_links is not None:  # the CSAT survey page (ESCALATOR_SECRET set)
        from bot.quality.survey_page import survey_routes

        routes += survey_routes(runtime.csat, runtime.survey_links)
    return hardened(routes, max_body=runtime.settings.max_body)


def create_operations_app(runtime: Runtime) -> Starlette:
    """/healthz and /metrics alone: `serve --metrics-port` (Socket Mode has no HTTP endpoint)."""
    return hardened(operations_routes(runtime), max_body=runtime.settings.max_body)


def operations_routes(runtime: Runtime) -> list[Route]:
    def database_ok() -> bool:
        try:
            with runtime.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            log.exception("health check: database unreachable")
            return False

    async def healthz(_request: Request) -> Response:
        if not await run_in_threadpool(database_ok):
            return PlainTextResponse("database unreachable", status_code=503)
        if runtime.worker.running and not runtime.worker.liveness.held:
            # without its lock others take this process's claims for a dead one's
            return PlainTextResponse("liveness lock lost; not delivering", status_code=503)
        return PlainTextResponse("ok")

    async def metrics(_request: Request) -> Response:
        # the database-derived gauges query it: off the event loop
        return Response(await run_in_threadpool(runtime.metrics.exposition), media_type=CONTENT_TYPE_LATEST)

    return [Route("/healthz", healthz, methods=["GET"]), Route("/metrics", metrics, methods=["GET"])]


def serve_http(runtime: Runtime, app: App, host: str, port: int) -> None:
    import uvicorn

    class GracefulServer(uvicorn.Server):
        """On SIGTERM/SIGINT finish in-flight requests and return, so the caller can
        stop the outbox worker cleanly (uvicorn would re-raise the signal instead)."""

        @contextlib.contextmanager
        def capture_signals(self):
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    config = uvicorn.Config(create_asgi_app(runtime, app), host=host, port=port, timeout_graceful_shutdown=10,
                            **uvicorn_options())
    GracefulServer(config).run()


def serve_socket_mode(runtime: Runtime, app: App) -> None:
    from bot.socket_mode import serve

    serve(runtime, app)


class BackgroundServer:
    """An ASGI app in a thread: the demo, tests and benchmarks (on 127.0.0.1, any free
    port), and `serve --metrics-port`."""

    def __init__(self, asgi_app, host: str = "127.0.0.1", port: int = 0):
        import socket
        import threading

        import uvicorn

        # naming TCP lets asyncio set TCP_NODELAY; without it small answers wait ~40 ms for delayed ACKs
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(asgi_app, lifespan="off", **uvicorn_options())
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="http", daemon=True)

    def start(self) -> BackgroundServer:
        import time

        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
