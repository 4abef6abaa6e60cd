"""The `escalator` command: serve, db upgrade, policy check/test, simulate, demo (design.md §4, §8)."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from sqlalchemy.exc import InterfaceError, OperationalError

from bot.config import ConfigError, load_settings
from bot.database_wait import first_line
from bot.policy import PolicyError, load_policy

log = logging.getLogger("escalator")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="escalator", description="Slack-native escalation desk.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_installed_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the bot (Socket Mode when SLACK_APP_TOKEN is set)")
    serve.add_argument("--http", action="store_true", help="serve Slack's HTTP requests on /slack/events")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=None, help="default: $PORT or 3000")
    serve.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                       help="also serve /metrics and /healthz on this port (for Socket Mode, or to keep "
                            "/metrics off the public port)")

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply pending migrations")

    policy = commands.add_parser("policy", help="escalation policy tools")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    check = policy_commands.add_parser("check", help="validate a policy file")
    check.add_argument("path", nargs="?", help="default: $ESCALATOR_POLICY or the built-in policy")
    test = policy_commands.add_parser("test", help="run behaviour tests (cases) against a policy")
    test.add_argument("--policy", help="the policy under test (default: $ESCALATOR_POLICY or the built-in policy)")
    test.add_argument("cases", nargs="+", metavar="CASES.yaml", help="case files (docs/policy-as-code.md)")

    simulate = commands.add_parser("simulate", help="replay the recorded tickets under the current and a candidate "
                                                    "policy, side by side")
    simulate.add_argument("--policy", required=True, metavar="CANDIDATE", help="the candidate policy file")
    simulate.add_argument("--from", dest="start", metavar="DATE",
                          help="tickets opened on or after this day (YYYY-MM-DD, policy timezone)")
    simulate.add_argument("--to", dest="end", metavar="DATE",
                          help="tickets opened on or before this day (YYYY-MM-DD, policy timezone)")
    simulate.add_argument("--format", choices=("text", "json"), default="text")

    demo = commands.add_parser("demo", help="play a full escalation offline against the Slack simulator")
    demo.add_argument("--month", action="store_true",
                      help="instead: a month of generated escalations and the monthly review it produces")
    demo.add_argument("--charts", metavar="DIR", help="with --month: save the review's charts (PNG) here")

    report = commands.add_parser("report", help="quality metrics of a month or a date range")
    report.add_argument("--month", help="YYYY-MM (default: the last full month)")
    report.add_argument("--from", dest="from_date", help="first day, YYYY-MM-DD (with --to)")
    report.add_argument("--to", dest="to_date", help="last day, YYYY-MM-DD, included")
    report.add_argument("--format", default="text", help="text (default), json or html")
    report.add_argument("--out", help="write to this file instead of stdout")

    importing = commands.add_parser("import", help="import past tickets from a helpdesk's CSV export")
    importing.add_argument("file", help="the CSV export")
    importing.add_argument("--mapping", required=True, help="YAML naming the columns and value maps")
    importing.add_argument("--dry-run", action="store_true", help="check every row, write nothing")

    suggest = commands.add_parser("suggest", help="suggest response targets and time limits from history")
    suggest.add_argument("--from", dest="start", help="first day (YYYY-MM-DD, policy timezone)")
    suggest.add_argument("--to", dest="end", help="last day (YYYY-MM-DD, policy timezone)")
    suggest.add_argument("--write", metavar="PATH", help="save a candidate policy with the suggested values")

    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "db":
            return _db_upgrade()
        if args.command == "policy" and args.policy_command == "test":
            return _policy_test(args.policy, args.cases)
        if args.command == "policy":
            return _policy_check(args.path)
        if args.command == "simulate":
            return _simulate(args)
        if args.command == "import":
            from bot.importing.command import run_import

            return run_import(args.file, args.mapping, args.dry_run)
        if args.command == "suggest":
            from bot.policy.suggest_command import run_suggest

            return run_suggest(args.start, args.end, args.write)
        if args.command == "report":
            return _report(args)
        if args.month:
            from bot.quality.review_demo import run_month_demo

            return run_month_demo(charts_dir=args.charts)
        from bot.demo import run_demo

        return run_demo()
    except ConfigError as error:
        print(f"escalator: {error}", file=sys.stderr)
        return 2
    except PolicyError as error:
        print(f"escalator: invalid policy {error.source}:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except (OperationalError, InterfaceError) as error:  # the database can't be reached or opened
        if args.command in ("demo", "policy"):  # their databases are their own, not DATABASE_URL: a bug
            raise
        print(f"escalator: the database (DATABASE_URL) can't be used: {first_line(error)}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (`escalator report | head`): stop quietly, like other tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _installed_version() -> str:
    """The version of the installed distribution (a wheel or an editable checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("escalator")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _serve(args) -> int:
    from bot.logging_setup import configure_logging
    from bot.runtime import build_app, build_runtime, freeze_startup_objects, start_background
    from bot.server import serve_http, serve_socket_mode

    settings = load_settings()
    configure_logging([settings.bot_token, settings.signing_secret, settings.app_token or "", settings.secret or ""],
                      log_format=settings.log_format)
    socket_mode = settings.socket_mode and not args.http
    # a refused token stops here, before the database and scheduler; an unreachable Slack is waited for
    if socket_mode:
        from bot.socket_mode import check_app_token

        check_app_token(settings)
    from bot.bot_token import check_bot_token

    check_bot_token(settings)
    _wait_for_database(settings.database_url)
    runtime = build_runtime(settings)
    try:
        app = build_app(runtime)
        freeze_startup_objects()
        start_background(runtime)
        if args.metrics_port is not None:
            _serve_operations(runtime, args.host, args.metrics_port)
        if not socket_mode:
            port = args.port or settings.port
            log.info("serving Slack on http://%s:%s/slack/events", args.host, port)
            serve_http(runtime, app, args.host, port)
        else:
            log.info("connecting to Slack in Socket Mode")
            serve_socket_mode(runtime, app)
    finally:
        runtime.stop()
    return 0


def _wait_for_database(url: str) -> None:
    from bot.database_wait import wait_for_database
    from bot.db import make_engine

    engine = make_engine(url)
    try:
        wait_for_database(engine)
    finally:
        engine.dispose()


def _serve_operations(runtime, host: str, port: int) -> None:
    from bot.server import BackgroundServer, create_operations_app

    try:
        server = BackgroundServer(create_operations_app(runtime), host=host, port=port).start()
    except OSError as error:  # taken, or not ours to bind
        raise ConfigError(f"--metrics-port {port}: {error.strerror or error}") from None
    runtime.background.append(server.stop)
    log.info("serving /metrics and /healthz on http://%s:%s", host, server.port)


def _db_upgrade() -> int:
    from bot.db import make_engine, upgrade

    settings = load_settings(need_slack=False)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    print(f"database is up to date ({engine.url.render_as_string(hide_password=True)})")
    return 0


def _report(args) -> int:
    from bot.db import make_engine, make_session_factory, upgrade
    from bot.quality.report import run_report

    settings = load_settings(need_slack=False)
    policy = load_policy(settings.policy_path)
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        return run_report(make_session_factory(engine), policy, month=args.month, from_date=args.from_date,
                          to_date=args.to_date, fmt=args.format, out=args.out)
    finally:
        engine.dispose()


def _policy_check(path: str | None) -> int:
    path = path or load_settings(need_slack=False).policy_path
    try:
        policy = load_policy(path)
    except PolicyError as error:
        print(f"{error.source}: invalid", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"{path or 'built-in policy'}: OK ({len(policy.levels)} levels, "
          f"{len(policy.severities)} severities, timezone {policy.timezone.key})")
    return 0


def _policy_test(path: str | None, case_files: list[str]) -> int:
    """Exit 0: every case passed; 1: some failed; 2: a file or the policy can't be run."""
    from bot.policy.case_runner import CaseRunner, report
    from bot.policy.cases import CaseFileError, load_cases
    from bot.policy.parsing import load_policy_data

    path = path or load_settings(need_slack=False).policy_path
    data, source = load_policy_data(path)
    load_policy(path)  # the policy itself must be valid before its cases mean anything
    try:
        cases = load_cases(case_files)
        with CaseRunner(data, source) as runner:
            runner.policies(cases)
            return report(runner.run_all(cases))
    except CaseFileError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 2


def _simulate(args) -> int:
    from bot.policy.simulate_report import run_simulation

    return run_simulation(args)


if __name__ == "__main__":
    sys.exit(main())
