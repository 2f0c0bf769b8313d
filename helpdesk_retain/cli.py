"""The ``helpdesk-retain`` command. Exit codes: 0 success, 2 bad usage or config, 1 a reported failure."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from .config import ConfigError, Settings, config_path, load_settings
from .db import session_scope
from .events import utcnow
from .runtime import Runtime, build_runtime
from .warmup import settle

config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML config (default: $HELPDESK_RETAIN_CONFIG or ./helpdesk-retain.toml)",
)


class Failure(click.ClickException):
    exit_code = 1


def fail_on_config_error(func: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            click.echo("configuration error:", err=True)
            for problem in exc.problems:
                click.echo(f"  {problem}", err=True)
            sys.exit(2)

    return wrapper


def load_runtime(config_file: str | None, *, migrate: bool = False) -> Runtime:
    rt = build_runtime(load_settings(config_path(config_file)))
    if migrate:
        from .schema import migrate as run_migrations

        run_migrations(rt.engine)
    return rt


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="log at INFO level")
def main(verbose: bool) -> None:
    """helpdesk-retain: complaints, churn risk, saves, TAT and follow-ups beside your help desk."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@main.command()
@config_option
@fail_on_config_error
def init(config_file: str | None) -> None:
    """Write a config with generated secrets, create the database and an API token."""
    path = config_path(config_file)
    if path.exists():
        raise Failure(f"{path} exists already; remove it or pass --config for a new one")
    _first_start(path)


def _first_start(path: Path) -> Runtime:
    from .bootstrap import write_default_config
    from .schema import migrate
    from .tokens import create_token

    secret = write_default_config(path)
    rt = build_runtime(load_settings(path))
    migrate(rt.engine)
    with session_scope(rt.sessions) as session:
        token = create_token(session, "admin", utcnow())
    click.echo(f"wrote {path} (SQLite database, mail to the outbox folder)")
    click.echo("these secrets are shown once:")
    click.echo(f"  webhook secret of source 'generic' (POST /webhooks/generic): {secret}")
    click.echo(f"  API token 'admin' (Authorization: Bearer ...): {token}")
    click.echo("dashboard: create a first user with `helpdesk-retain user create EMAIL --role admin`")
    return rt


@main.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@fail_on_config_error
def serve(config_file: str | None, host: str, port: int) -> None:
    """Web server and scheduler in one process (the embedded default)."""
    import waitress

    from .scheduler import build_scheduler
    from .web_app import build_app

    path = config_path(config_file)
    rt = _first_start(path) if config_file is None and not path.exists() else load_runtime(config_file, migrate=True)
    app = build_app(runtime=rt)
    settle(rt)
    scheduler = build_scheduler(rt, blocking=False)
    scheduler.start()
    click.echo(f"listening on http://{host}:{port}  (webhooks: POST /webhooks/<source>)")
    try:
        waitress.serve(app, host=host, port=port, threads=rt.settings.server.threads)
    finally:
        scheduler.shutdown(wait=True)


@main.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@fail_on_config_error
def web(config_file: str | None, host: str, port: int) -> None:
    """The web server alone (waitress); for gunicorn use 'helpdesk_retain:create_app()'."""
    import waitress

    from .web_app import build_app

    rt = load_runtime(config_file)
    app = build_app(runtime=rt)
    settle(rt)
    waitress.serve(app, host=host, port=port, threads=rt.settings.server.threads)


@main.command()
@config_option
@fail_on_config_error
def scheduler(config_file: str | None) -> None:
    """The scheduler alone, blocking; exits cleanly on SIGTERM."""
    from .scheduler import run_blocking

    rt = load_runtime(config_file)
    settle(rt, warm=False)  # its jobs read stored verdicts: the tagger is not built here
    run_blocking(rt, on_ready=lambda: click.echo("scheduler running", err=True))


@main.command("run-due")
@config_option
@click.option("--once", is_flag=True, default=True, help="run every due job once and exit (for cron)")
@fail_on_config_error
def run_due(config_file: str | None, once: bool) -> None:
    """Run every periodic job once now."""
    from .scheduler import run_all_once

    for name, count in run_all_once(load_runtime(config_file)).items():
        click.echo(f"{name}: {count}")


@main.command()
@config_option
@fail_on_config_error
def migrate(config_file: str | None) -> None:
    """Bring the database to the newest schema."""
    load_runtime(config_file, migrate=True)
    click.echo("database is at the newest schema")


@main.command("check-config")
@config_option
@fail_on_config_error
def check_config(config_file: str | None) -> None:
    """Validate the config (including each plugin's section) and print what is enabled."""
    settings: Settings = load_settings(config_path(config_file))
    rt = build_runtime(settings)
    click.echo(f"database: {settings.database.url.split('@')[-1]}")
    for name, integration in rt.integrations.items():
        click.echo(f"source {name}: plugin {integration.slug} -> POST /webhooks/{name}")
    click.echo(f"mail: {'SMTP ' + settings.smtp.host if settings.smtp else 'outbox folder ' + settings.outbox.path}")
    click.echo("config OK")


@main.group()
def deadletters() -> None:
    """Deliveries that could not be parsed or applied."""


@deadletters.command("list")
@config_option
@fail_on_config_error
def deadletters_list(config_file: str | None) -> None:
    from .inbox import dead_letters

    rows = dead_letters(load_runtime(config_file))
    for row in rows:
        click.echo(f"{row.id}\t{row.source}\t{row.received_at:%Y-%m-%d %H:%M:%S}\t{row.delivery_id}\t{row.error}")
    click.echo(f"{len(rows)} dead letter(s)")


@deadletters.command("replay")
@config_option
@click.argument("row_id", required=False, type=int)
@click.option("--all", "replay_all", is_flag=True, help="replay every dead letter")
@fail_on_config_error
def deadletters_replay(config_file: str | None, row_id: int | None, replay_all: bool) -> None:
    from .inbox import dead_letters, replay

    if (row_id is None) == (not replay_all):
        raise click.UsageError("give a dead letter ID or --all")
    rt = load_runtime(config_file)
    ids = [r.id for r in dead_letters(rt, limit=1_000_000)] if replay_all else [row_id]
    failed = 0
    for one in ids:
        outcome = replay(rt, int(one or 0))
        click.echo(f"{one}: {outcome}")
        failed += outcome != "processed"
    if failed:
        raise Failure(f"{failed} of {len(ids)} dead letter(s) not processed")


@main.command("import")
@config_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", default=None, help="generic source to import as (default: the first one)")
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="where failed lines go (default: FILE.rejects.jsonl)",
)
@click.option("--batch-size", default=2000, show_default=True, type=click.IntRange(1, 100_000))  # = DEFAULT_BATCH
@fail_on_config_error
def import_(config_file: str | None, file: Path, source: str | None, rejects: Path | None, batch_size: int) -> None:
    """Import generic events, one JSON object per line."""
    from .importer import import_file

    rt = load_runtime(config_file)
    generic = [name for name, integ in rt.integrations.items() if integ.slug == "generic"]
    source = source or (generic[0] if generic else None)
    if source is None or source not in rt.integrations:
        raise click.UsageError('no generic source configured; add [sources.<name>] plugin = "generic"')
    reject_path = rejects or file.with_suffix(file.suffix + ".rejects.jsonl")
    summary = import_file(rt, file, source, reject_path, batch_size=batch_size, progress=sys.stderr.isatty())
    click.echo(
        f"applied {summary.applied}, duplicate {summary.duplicate}, failed {summary.failed}, ignored {summary.ignored}"
    )
    if summary.failed:
        click.echo(f"failed lines with their numbers: {reject_path}")
        raise Failure(f"{summary.failed} line(s) failed")


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@config_option
@click.argument("name")
@fail_on_config_error
def token_create(config_file: str | None, name: str) -> None:
    """Create an API token; it is printed once and stored only as a hash."""
    from sqlalchemy.exc import IntegrityError

    from .tokens import create_token

    rt = load_runtime(config_file)
    try:
        with session_scope(rt.sessions) as session:
            value = create_token(session, name, utcnow())
    except IntegrityError:
        raise Failure(f"a token named {name!r} exists already") from None
    click.echo(value)


@main.command()
@config_option
@click.option("--week", "week_text", default=None, help="ISO week, e.g. 2026-W47 (default: the last complete week)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="write .eml, .html, .txt; send nothing")
@click.option("--send", "send_now", is_flag=True, help="send now: once per week, like the scheduler")
@click.option("--force", is_flag=True, help="with --send: send again although this week's digest was sent")
@fail_on_config_error
def digest(config_file: str | None, week_text: str | None, out: Path | None, send_now: bool, force: bool) -> None:
    """Preview (--out DIR) or send (--send) the weekly digest of an ISO week in [digest].timezone."""
    from .digest.command import run_digest_command

    if not (out or send_now) or (force and not send_now):
        raise click.UsageError("give --out DIR to preview, or --send [--force] to send")
    run_digest_command(load_runtime(config_file), week_text, out, send_now, force)


@main.command("eval-tagging")
@config_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--competitor", "competitors", multiple=True, help="a competitor name, added to [tagging] competitors")
@click.option("--errors", "show_errors", is_flag=True, help="also list every item the rules got wrong")
@fail_on_config_error
def eval_tagging(config_file: str | None, file: Path, competitors: tuple[str, ...], show_errors: bool) -> None:
    """Precision and recall of the complaint and risk rules on a labeled JSON-lines FILE."""
    from .tagging.evaluate import run_eval_command

    click.echo(run_eval_command(file, config_file, competitors, show_errors))


@main.group()
def user() -> None:
    """Dashboard users (roles: agent, lead, admin)."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@user.command("create")
@config_option
@click.argument("email")
@click.option("--role", type=click.Choice(["agent", "lead", "admin"]), default="agent", show_default=True)
@click.option("--name", default=None, help="display name")
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of standard input")
@fail_on_config_error
def user_create(config_file: str | None, email: str, role: str, name: str | None, password_stdin: bool) -> None:
    """Create a dashboard user; the password is prompted for (or read with --password-stdin)."""
    from .web.accounts import AccountError, create_user

    rt = load_runtime(config_file)
    try:
        with session_scope(rt.sessions) as session:
            created = create_user(session, email, role, _read_password(password_stdin), utcnow(), name)
            click.echo(f"created {created.role} {created.email}")
    except AccountError as exc:
        raise Failure(str(exc)) from None


@user.command("set-password")
@config_option
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of standard input")
@fail_on_config_error
def user_set_password(config_file: str | None, email: str, password_stdin: bool) -> None:
    """Set a user's password; their sessions end."""
    from .web.accounts import AccountError, find_user, set_password

    rt = load_runtime(config_file)
    try:
        with session_scope(rt.sessions) as session:
            found = find_user(session, email)
            if found is None:
                raise Failure(f"no user {email.strip().lower()}")
            set_password(found, _read_password(password_stdin), utcnow())
    except AccountError as exc:
        raise Failure(str(exc)) from None
    click.echo(f"password of {email.strip().lower()} changed")


if __name__ == "__main__":
    main()
