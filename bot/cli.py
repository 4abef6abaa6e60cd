"""The `escalator` command: serve, db upgrade, policy check, demo (design.md §4)."""
from __future__ import annotations

import argparse
import logging
import sys

from bot.config import ConfigError, load_settings
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

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply pending migrations")

    policy = commands.add_parser("policy", help="escalation policy tools")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    check = policy_commands.add_parser("check", help="validate a policy file")
    check.add_argument("path", nargs="?", help="default: $ESCALATOR_POLICY or the built-in policy")

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

    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "db":
            return _db_upgrade()
        if args.command == "policy":
            return _policy_check(args.path)
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
    configure_logging([settings.bot_token, settings.signing_secret, settings.app_token or "", settings.secret or ""])
    socket_mode = settings.socket_mode and not args.http
    # a refused token stops here, before the database and scheduler; an unreachable Slack is waited for
    if socket_mode:
        from bot.socket_mode import check_app_token

        check_app_token(settings)
    from bot.bot_token import check_bot_token

    check_bot_token(settings)
    runtime = build_runtime(settings)
    try:
        app = build_app(runtime)
        freeze_startup_objects()
        start_background(runtime)
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


if __name__ == "__main__":
    sys.exit(main())
