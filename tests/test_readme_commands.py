"""Every `escalator` command in the shell blocks of the README and docs/ works as written.

The commands that need Slack (`serve`) are held by their own tests (test_serve.py,
test_socket_mode.py); every other one is run here, in a scratch directory with its own
SQLite database, with the README's policy example saved as the `policy.yaml` its
commands name and a copy of `examples/`. A command added to the README is picked up without touching this file.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]
NEEDS_SLACK = {"serve"}  # held by test_serve.py and test_socket_mode.py


def fenced_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def escalator_commands(documents: list[Path]) -> list[list[str]]:
    commands = []
    for block in (block for document in documents for block in fenced_blocks(document.read_text(), "bash")):
        for line in block.replace("\\\n", " ").splitlines():  # continuation lines joined
            words = shlex.split(line, comments=True)
            if words and words[0] == "escalator" and words not in commands:
                commands.append(words)
    return commands


def escalator_executable() -> list[str]:
    """The installed console script beside this Python (what a reader types), else the module."""
    script = Path(sys.executable).with_name("escalator")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def the_readme_policy() -> str:
    """The README's full policy example: the YAML block that names a timezone."""
    return next(block for block in fenced_blocks(README.read_text(), "yaml") if block.startswith("timezone:"))


def test_the_readme_shows_the_commands_a_newcomer_needs():
    subcommands = {tuple(words[1:3]) for words in escalator_commands([README])}
    for expected in [("demo",), ("db", "upgrade"), ("policy", "check"), ("serve",), ("serve", "--http")]:
        assert any(found[:len(expected)] == expected for found in subcommands), expected


COMMANDS = [words for words in escalator_commands(DOCUMENTS) if words[1] not in NEEDS_SLACK]


@pytest.mark.parametrize("words", COMMANDS, ids=[" ".join(words) for words in COMMANDS])
def test_each_readme_command_that_needs_no_slack_works_as_written(words, tmp_path):
    (tmp_path / "policy.yaml").write_text(the_readme_policy())
    shutil.copytree(ROOT / "examples", tmp_path / "examples")  # commands name them as from a checkout
    env = {name: value for name, value in os.environ.items()
           if name not in {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "ESCALATOR_POLICY"}}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'escalator.db'}"
    result = subprocess.run(escalator_executable() + words[1:], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"{' '.join(words)} exited {result.returncode}:\n{result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr
