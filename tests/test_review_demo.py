"""`escalator demo --month`: a generated month and the review the real bot posts for it,
offline (bot/quality/review_demo.py)."""
import subprocess
import sys


def test_demo_month_plays_a_generated_month_and_its_review_offline(tmp_path):
    charts = tmp_path / "charts"
    result = subprocess.run([sys.executable, "-m", "bot.cli", "demo", "--month", "--charts", str(charts)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "420 tickets opened in" in out
    management = out[out.index("What #mgmt saw"):]
    assert "Escalation review · " in management
    assert "*Tickets opened*\n                   420  (+40)" in management  # 420 this month, 380 the month before
    assert "*Knowledge-base gaps (articles wanted)*" in management and "ESC-" in management
    assert "↳" in management and "[file: Weekly volume by level]" in management  # charts in the thread
    assert "A minute later the job runs again: nothing more to post." in out
    saved = sorted(charts.iterdir())
    assert len(saved) == 5 and all(path.read_bytes().startswith(b"\x89PNG") for path in saved)
    assert "Traceback" not in result.stderr


def test_charts_folder_that_cant_be_made_is_refused_before_the_month_is_played(tmp_path):
    in_the_way = tmp_path / "report.txt"
    in_the_way.write_text("a file, not a folder")
    result = subprocess.run([sys.executable, "-m", "bot.cli", "demo", "--month", "--charts",
                             str(in_the_way / "charts")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == f"escalator demo: --charts {in_the_way / 'charts'}: Not a directory"
    assert result.stdout == ""  # nothing generated, nothing posted
