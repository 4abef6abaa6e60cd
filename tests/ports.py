"""A free TCP port for a process the test starts itself (`serve --http --port N`)."""
from __future__ import annotations

import random
import socket

# Below Linux's ephemeral range (32768-60999): the kernel gives those to outgoing
# connections, so a port from there, free when probed, could be taken by any client
# socket before the process binds it (seen with four workers: "address already in use").
_PORTS = range(20000, 32768)
_pick = random.SystemRandom()  # not the `random` pytest-randomly seeds alike in every worker


def free_port() -> int:
    while True:
        port = _pick.choice(_PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
