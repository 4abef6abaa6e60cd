import subprocess
import sys


def test_demo_plays_a_full_escalation_offline():
    result = subprocess.run([sys.executable, "-m", "bot.cli", "demo"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    tier1 = out[out.index("== #tier1"):out.index("== #tier2")]
    tier2 = out[out.index("== #tier2"):out.index("== #tier3")]
    management = out[out.index("== #mgmt"):out.index("== #executive")]
    assert "ESC-1 · P2 · Tier 1" in tier1 and "Acknowledged by <@U0AGENT2>" in tier1
    assert "Escalated to Tier 2" in tier1 and "|ESC-1 briefing in Tier 2>" in tier1
    assert "ESC-1 · P2 · Tier 2" in tier2 and "Acknowledged by <@U0SPEC1>" in tier2
    assert "<@U0MGR1>" in management and "VIP customer" in management
    assert "Traceback" not in result.stderr
