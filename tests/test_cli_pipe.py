"""`escalator … | head` stops quietly when the reader goes away: no traceback on stderr."""
from __future__ import annotations

import os
import subprocess
import sys


def test_a_closed_pipe_ends_the_command_quietly(tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line
    try:
        finished = subprocess.run([sys.executable, "-m", "bot.cli", "policy", "check"], stdout=write_end,
                                  stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=60,
                                  env={**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    finally:
        os.close(write_end)
    assert "Traceback" not in finished.stderr, finished.stderr
    assert finished.returncode == 141
