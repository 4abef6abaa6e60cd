"""`escalator serve` with SLACK_APP_TOKEN set talks to Slack over Socket Mode: it asks
`apps.connections.open` (with the app-level token) for a WebSocket URL, and answers a
slash command that arrives there. Slack's side is faked at the network edge: the Web API
simulator, and a minimal WebSocket server speaking Socket Mode's envelopes."""
import base64
import hashlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

from bot.simulator import FakeSlack
from tests.harness import SUPPORT

TOKEN = "xoxb-socket-test-token-123456"
APP_TOKEN = "xapp-1-A0FAKEAPP-socket-test-app-token"
SECRET = "socket-test-signing-secret-abcdef"
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class SocketModeSlack(FakeSlack):
    """The Web API simulator, plus apps.connections.open for the app-level token."""

    def __init__(self, ws_url: str, **kwargs):
        super().__init__(**kwargs)
        self.ws_url = ws_url
        self.connections_opened = 0

    def _answer_api(self, method, params, auth):
        if method == "apps.connections.open":
            if auth != f"Bearer {APP_TOKEN}":
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            self.connections_opened += 1
            return 200, {"ok": True, "url": self.ws_url}, {}
        return super()._answer_api(method, params, auth)


class SocketModeServer:
    """Accepts one WebSocket, says hello, sends one envelope, keeps what comes back."""

    def __init__(self, envelope: dict):
        self.envelope = envelope
        self.received: list[dict] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self.listener.getsockname()[1]}/link"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            connection, _ = self.listener.accept()
        except OSError:
            return
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(4096)
            key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                       if line.lower().startswith(b"sec-websocket-key:"))
            accept = base64.b64encode(hashlib.sha1(key + _WS_GUID.encode()).digest()).decode()
            connection.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
            self._send(connection, 0x1, json.dumps({"type": "hello", "num_connections": 1,
                                                    "connection_info": {"app_id": "A0FAKEAPP"}}).encode())
            self._send(connection, 0x1, json.dumps(self.envelope).encode())
            try:
                while True:
                    opcode, payload = self._receive(connection)
                    if opcode == 0x1:
                        self.received.append(json.loads(payload))
                    elif opcode == 0x9:  # ping
                        self._send(connection, 0xA, payload)
                    elif opcode == 0x8:
                        return
            except (OSError, ConnectionError):
                return

    @staticmethod
    def _send(connection: socket.socket, opcode: int, payload: bytes) -> None:
        size = len(payload)
        header = bytes([0x80 | opcode]) + (bytes([size]) if size < 126 else
                                           bytes([126]) + struct.pack("!H", size) if size < 65536 else
                                           bytes([127]) + struct.pack("!Q", size))
        connection.sendall(header + payload)

    @staticmethod
    def _receive(connection: socket.socket) -> tuple[int, bytes]:
        def exactly(n: int) -> bytes:
            data = b""
            while len(data) < n:
                chunk = connection.recv(n - len(data))
                if not chunk:
                    raise ConnectionError("closed")
                data += chunk
            return data

        first, second = exactly(2)
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", exactly(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", exactly(8))[0]
        mask = exactly(4) if second & 0x80 else b"\0\0\0\0"
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(exactly(size)))
        return first & 0x0F, payload

    def close(self) -> None:
        self.listener.close()


def test_serve_answers_a_command_over_socket_mode(tmp_path):
    command = {"token": "fake-verification-token", "team_id": "T0TEST", "team_domain": "fake",
               "channel_id": SUPPORT, "channel_name": "support", "user_id": "U0AGENT1", "user_name": "agent1",
               "command": "/escalate", "text": "help", "api_app_id": "A0FAKEAPP", "is_enterprise_install": "false",
               "response_url": "https://hooks.slack.invalid/commands/1", "trigger_id": "1.2.3"}
    server = SocketModeServer({"envelope_id": "env-help-1", "type": "slash_commands", "accepts_response_payload": True,
                               "payload": command})
    with SocketModeSlack(server.url, token=TOKEN) as sim:
        sim.add_channel(SUPPORT, "support")
        env = {**os.environ, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_APP_TOKEN": APP_TOKEN,
               "SLACK_API_URL": sim.url, "DATABASE_URL": f"sqlite:///{tmp_path / 'socket.db'}"}
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 30
            while not [r for r in server.received if r.get("envelope_id") == "env-help-1"]:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "no answer to the command over the WebSocket"
                time.sleep(0.1)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                output = process.communicate(timeout=15)[0]
            except subprocess.TimeoutExpired:
                process.kill()
                output = process.communicate()[0]
            server.close()
    assert sim.connections_opened >= 1  # with the app-level token
    [answer] = [r for r in server.received if r.get("envelope_id") == "env-help-1"]
    assert "/escalate status ESC-12" in json.dumps(answer["payload"])  # the help, as the command's ack
    assert "connecting to Slack in Socket Mode" in output
    assert TOKEN not in output and APP_TOKEN not in output
