"""``beacon`` command line: the only place that reads argv.

Each subcommand is a function ``(args, settings) -> int`` registered in :data:`COMMANDS` by
the module that owns it, through :func:`command`. Exit codes: 0 success, 1 failure reported
to the user, 2 usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from beacon.config import Settings, load_settings
from beacon.errors import BeaconError, LoadError

Handler = Callable[[argparse.Namespace, Settings], int]


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Handler


COMMANDS: dict[str, Command] = {}


def command(
    name: str, help: str, configure: Callable[[argparse.ArgumentParser], None]
) -> Callable[[Handler], Handler]:
    """Register a subcommand (decorator)."""

    def register(run: Handler) -> Handler:
        COMMANDS[name] = Command(name, help, configure, run)
        return run

    return register


def _configure_db(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="db_command", required=True)
    sub.add_parser("upgrade", help="apply pending schema migrations")
    sub.add_parser("version", help="print the schema version")


@command("db", "database schema management", _configure_db)
def _db(args: argparse.Namespace, settings: Settings) -> int:
    from beacon.storage import db, migrate

    async def run() -> int:
        conn = await db.connect(db.resolve_dsn(settings))
        try:
            if args.db_command == "upgrade":
                applied = await migrate.upgrade(conn)
                print(
                    f"applied {len(applied)} migration(s); schema at version "
                    f"{await migrate.current_version(conn)}"
                )
            else:
                print(await migrate.current_version(conn))
        finally:
            await conn.close()
        return 0

    return asyncio.run(run())


def _load_command_modules() -> None:
    # Importing a command module registers its subcommands. Kept lazy so ``beacon --help``
    # stays fast and a missing optional dependency only affects its own command.
    import importlib

    for module in _COMMAND_MODULES:
        importlib.import_module(module)


_COMMAND_MODULES: tuple[str, ...] = (
    "beacon.ingest.commands",  # load, datasets, remove, remove-samples
    "beacon.privacy_commands",  # consent, policy, audit, budget
    "beacon.serve",  # serve
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beacon", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for cmd in COMMANDS.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.configure(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``beacon`` console script."""
    _load_command_modules()
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(os.environ)
    except BeaconError as exc:
        print(f"beacon: {exc.message}", file=sys.stderr)
        return 2
    level = (args.log_level or settings.log_level).upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # pgserver narrates every command it runs at INFO; only its warnings matter to operators.
    logging.getLogger("pgserver").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    try:
        return COMMANDS[args.command].run(args, settings)
    except (BeaconError, LoadError) as exc:
        print(f"beacon: {getattr(exc, 'message', str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("beacon: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
