"""`escalator serve --http` as operators run it, sent 64 MiB bodies: it answers 413 and
its memory stays where it was (before the cap, one such request grew it by 192 MiB)."""
import pytest

from bot.simulator import SlackDriver
from tests.harness import SUPPORT
from tests.http_probes import push_body
from tests.test_serve import SECRET, served  # noqa: F401  (the fixture: a real serve --http process)

MIB = 1024 * 1024


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_64_mib_body_gets_413_and_memory_stays_flat(served, chunked):  # noqa: F811
    sim, base, process, _ = served
    url = base + "/slack/events"
    driver = SlackDriver(url, SECRET, sim)
    for _ in range(3):  # warm up every path the attempt takes, so what's measured is the attempt
        assert driver.command("U0AGENT1", SUPPORT, "help").status == 200
        assert push_body(base, "/slack/events", 2 * MIB, chunked=chunked)[0] == 413
    before = rss(process.pid)
    for _ in range(3):
        status, sent = push_body(base, "/slack/events", 64 * MIB, chunked=chunked)
        assert status == 413
    grown = rss(process.pid) - before
    print(f"RSS {before / MIB:.1f} MiB -> +{grown / MIB:.2f} MiB after 3 x 64 MiB ({'chunked' if chunked else 'Content-Length'})")
    assert grown < 3 * MIB, f"RSS grew by {grown / MIB:.1f} MiB"
    assert driver.command("U0AGENT1", SUPPORT, "help").status == 200
