"""The bot in Socket Mode: the same Harness (runtime, Bolt app, outbox worker, FakeSlack),
with our Socket Mode supervisor connected to the simulator's Socket Mode server and
people acting through SocketModeDriver (envelopes) instead of signed HTTP requests."""
from __future__ import annotations

import threading

from slack_sdk import WebClient

from bot.simulator import SocketModeDriver
from bot.socket_mode import EnvelopeHandler, Supervisor
from bot.socket_mode.token import open_connection_url
from tests.harness import Harness


class SocketModeHarness(Harness):
    def __init__(self, database_url: str, **kwargs):
        self.supervisor_options = kwargs.pop("supervisor_options", {})
        super().__init__(database_url, **kwargs)
        self.failure: BaseException | None = None

    def __enter__(self) -> SocketModeHarness:
        super().__enter__()
        self.socket = self.sim.enable_socket_mode()
        self.supervisor = self.start_supervisor()
        self.socket.wait_for_connections(1)
        self.driver = SocketModeDriver(self.sim)
        return self

    def start_supervisor(self, **options) -> Supervisor:
        """Our supervisor on this app, in its own thread, connecting through the simulator."""
        client = WebClient(token=self.sim.app_token, base_url=self.sim.url, retry_handlers=[])
        supervisor = Supervisor(lambda: open_connection_url(client), EnvelopeHandler(self.app, self.runtime.events),
                                **{**self.supervisor_options, **options})

        def run() -> None:
            try:
                supervisor.run()
            except BaseException as error:  # surfaced by __exit__
                self.failure = error

        supervisor.thread = threading.Thread(target=run, name="socket-mode-supervisor", daemon=True)
        supervisor.thread.start()
        return supervisor

    def __exit__(self, *exc) -> None:
        self.supervisor.stop()
        self.supervisor.thread.join(10)
        super().__exit__(*exc)
        assert self.failure is None, f"the supervisor stopped: {self.failure!r}"
