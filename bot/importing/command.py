"""The `escalator import FILE.csv --mapping MAP.yaml [--dry-run]` command: prints each
bad row (line and why) and a summary; exit 0 when every row went in or was in already,
1 when some rows were bad (the rest are imported), 2 when nothing could be read."""
from __future__ import annotations

import sys

from bot.config import load_settings
from bot.db import make_engine, make_session_factory, upgrade
from bot.importing.importer import ImportFileError, TicketImport
from bot.importing.mapping import MappingError, load_mapping
from bot.policy import load_policy


def run_import(path: str, mapping_path: str, dry_run: bool) -> int:
    settings = load_settings(need_slack=False)
    policy = load_policy(settings.policy_path)
    try:
        mapping = load_mapping(mapping_path, policy)
    except MappingError as error:
        print(f"escalator: invalid mapping {error.source}:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url)
    try:
        if not dry_run:
            upgrade(engine)
        summary = TicketImport(make_session_factory(engine), policy, mapping).run(path, dry_run=dry_run)
    except ImportFileError as error:
        print(f"escalator: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    for line in summary.lines():
        print(line)
    return 1 if summary.bad else 0
