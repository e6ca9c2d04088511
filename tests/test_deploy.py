"""``deploy/`` checked against the code it drives, without Docker.

The compose file, the sites' env files, the aggregator's ``network.toml`` and the Dockerfile
are read here the way Docker and the programs read them, and every name, path, port and
command in them is checked against the project itself:

* the compose file parses; builds, images, env files, bind-mounted paths, named volumes,
  networks and ``depends_on`` targets exist; every long-running service restarts and has a
  health check; PostgreSQL keeps its data on a named volume and is published nowhere;
* every ``BEACON_*`` variable is one :func:`beacon.config.load_settings` reads (recorded while
  it reads), every other variable a beacon gets is one asyncpg reads, and each site's settings
  load and point at that site's own PostgreSQL service;
* every command (in ``command:``, the Dockerfile's ``CMD`` and the usage lines at the top of
  the compose file) parses with the real ``beacon`` / ``aggregator`` argument parsers;
* ports: what is exposed, published, health-checked and named in member URLs is what the
  service's command and settings make it listen on;
* no secret is written in a file: passwords come from required ``${VAR:?...}`` variables;
* the Dockerfile copies what ``pip install .`` needs (per pyproject.toml) from paths that
  exist and that its dockerignore file lets through, installs with pip, runs as a non-root
  user, and its default command is one of the project's console scripts.

What this cannot check: that the image builds and that ``docker compose up`` starts.
"""

from __future__ import annotations

import argparse
import functools
import re
import shlex
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
import yaml
from packaging.specifiers import SpecifierSet

from aggregator import cli as aggregator_cli
from aggregator.config import NetworkConfig, load_config, parse_config
from beacon import cli as beacon_cli
from beacon.config import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
POSTGRES_PORT = 5432
"""The port the official postgres image listens on (nothing here changes it)."""
ALL_INTERFACES = {"0.0.0.0", "::"}
"""Addresses of every interface: containers are reached from other containers."""
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|PASSWD", re.IGNORECASE)
REQUIRED_VARIABLE = re.compile(r"^\$\{(?P<name>[A-Za-z_]\w*):\?[^}]*\}$")
# Compose interpolation: $$, ${NAME}, ${NAME:-default}, ${NAME:?error}, ..., $NAME.
INTERPOLATION = re.compile(
    r"\$(?:\$|\{(?P<braced>[A-Za-z_]\w*)(?::?[-?+][^}]*)?\}|(?P<bare>[A-Za-z_]\w*))"
)
ENV_LINE = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>[^\"'$]*)$")


# --- reading the files -------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict), "docker-compose.yml is not a mapping"
    return document


COMPOSE = _compose()
SERVICES: dict[str, dict[str, Any]] = COMPOSE.get("services") or {}


def _interpolate(value: str) -> str:
    """``value`` as compose passes it on, each variable replaced by a placeholder."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        return f"placeholder-{name.lower()}"

    return INTERPOLATION.sub(substitute, value)


def _env_file_paths(service: Mapping[str, Any]) -> list[Path]:
    raw = service.get("env_file") or []
    entries = [raw] if isinstance(raw, str) else list(raw)
    paths = []
    for entry in entries:
        path = entry["path"] if isinstance(entry, dict) else entry
        paths.append(DEPLOY / path)
    return paths


def _read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (``#`` comments, blank lines); no quotes, no ``$``, so that compose,
    ``docker run --env-file`` and a shell all read the same values."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = ENV_LINE.match(line)
        assert match, f"{path.name}:{number}: not a plain KEY=VALUE line: {line!r}"
        assert match["key"] not in values, f"{path.name}:{number}: {match['key']} set twice"
        values[match["key"]] = match["value"]
    return values


def _environment_block(service: Mapping[str, Any]) -> dict[str, str]:
    """The service's ``environment:`` (mapping or list form), not interpolated."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        return dict(item.split("=", 1) for item in raw)
    return {str(key): "" if value is None else str(value) for key, value in raw.items()}


def _environment(name: str) -> dict[str, str]:
    """What the container of service ``name`` gets: env files, then ``environment:``."""
    service = SERVICES[name]
    env: dict[str, str] = {}
    for path in _env_file_paths(service):
        env.update(_read_env_file(path))
    env.update({k: _interpolate(v) for k, v in _environment_block(service).items()})
    return env


def _dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, arguments = full.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    assert not pending, f"{path}: a continuation line runs off the end"
    return instructions


def _build(service: Mapping[str, Any]) -> tuple[Path, Path] | None:
    """(context, Dockerfile) of a service that builds its image."""
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        build = {"context": build}
    context = (DEPLOY / build.get("context", ".")).resolve()
    return context, context / build.get("dockerfile", "Dockerfile")


BUILDS = {b for b in (_build(s) for s in SERVICES.values()) if b is not None}


def _exec_form(arguments: str, where: str) -> list[str]:
    assert arguments.startswith("["), f"{where} is not in exec (JSON array) form: {arguments}"
    value = yaml.safe_load(arguments)  # a JSON array is YAML too
    assert isinstance(value, list), where
    assert all(isinstance(v, str) for v in value), where
    return value


def _dockerfile_cmd(dockerfile: Path) -> list[str]:
    cmds = [args for keyword, args in _dockerfile_instructions(dockerfile) if keyword == "CMD"]
    assert cmds, f"{dockerfile} has no CMD"
    return _exec_form(cmds[-1], f"{dockerfile.name} CMD")


def _command(name: str) -> list[str]:
    """The argv service ``name`` runs: its ``command:``, else its image's CMD."""
    service = SERVICES[name]
    command = service.get("command")
    if command is None:
        build = _build(service)
        assert build is not None, f"{name}: no command and no image of ours to take it from"
        return _dockerfile_cmd(build[1])
    if isinstance(command, str):
        return shlex.split(command)
    return [str(part) for part in command]


def _no_abbreviations(parser: argparse.ArgumentParser) -> None:
    """Accept only full option names: ``--conf`` for ``--config`` works today but turns
    ambiguous the day another option starts the same way."""
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                _no_abbreviations(subparser)


def _parse(argv: list[str], where: str) -> argparse.Namespace:
    """``argv`` through the real ``beacon`` / ``aggregator`` parser (as their ``main`` builds
    it); a misspelt subcommand or option fails the test."""
    assert argv, f"{where}: empty command"
    program, *rest = argv
    if program == "beacon":
        beacon_cli._load_command_modules()
        parser = beacon_cli.build_parser()
    elif program == "aggregator":
        parser = aggregator_cli.build_parser()
    else:
        pytest.fail(f"{where}: {program!r} is not one of the project's commands", pytrace=False)
    _no_abbreviations(parser)
    try:
        return parser.parse_args(rest)
    except SystemExit:
        pytest.fail(f"{where}: {shlex.join(argv)!r} does not parse", pytrace=False)


def _role(name: str) -> str:
    """``beacon``, ``aggregator`` or ``postgres``, from what the service runs."""
    repository = str(SERVICES[name].get("image", "")).partition(":")[0]
    if repository.rpartition("/")[2] == "postgres" and _build(SERVICES[name]) is None:
        return "postgres"
    argv = _command(name)
    args = _parse(argv, name)
    assert args.command == "serve", f"{name}: runs {shlex.join(argv)!r}, not a server"
    return argv[0]


ROLES = {name: _role(name) for name in SERVICES}
BEACONS = sorted(n for n, r in ROLES.items() if r == "beacon")
AGGREGATORS = sorted(n for n, r in ROLES.items() if r == "aggregator")
DATABASES = sorted(n for n, r in ROLES.items() if r == "postgres")


class RecordingEnv(dict[str, str]):
    """An environment that notes every name read from it."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        super().__init__(values or {})
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)


def _variables_the_beacon_reads() -> frozenset[str]:
    env = RecordingEnv()
    load_settings(env)
    return frozenset(env.read)


BEACON_VARIABLES = _variables_the_beacon_reads()


def _variables_asyncpg_reads() -> frozenset[str]:
    source = (Path(asyncpg.__file__).parent / "connect_utils.py").read_text(encoding="utf-8")
    return frozenset(re.findall(r"os\.getenv\(['\"](PG[A-Z]+)['\"]\)", source))


def _beacon_settings(name: str) -> tuple[Settings, argparse.Namespace]:
    return load_settings(_environment(name)), _parse(_command(name), name)


def _beacon_listen(name: str) -> tuple[str, int]:
    """Where ``beacon serve`` listens in service ``name``: options over BEACON_HOST/PORT."""
    settings, args = _beacon_settings(name)
    host = args.host if args.host is not None else settings.host
    port = args.port if args.port is not None else settings.port
    return host, port


def _volumes(name: str) -> list[tuple[str, str]]:
    """(source, target) of each volume of service ``name`` (short or long syntax)."""
    found = []
    for volume in SERVICES[name].get("volumes") or []:
        if isinstance(volume, dict):
            found.append((str(volume.get("source", "")), str(volume["target"])))
        else:
            parts = str(volume).split(":")
            assert len(parts) >= 2, f"{name}: anonymous volume {volume!r}"
            found.append((parts[0], parts[1]))
    return found


def _is_bind(source: str) -> bool:
    return source.startswith(("/", ".", "~"))


def _host_path(name: str, container_path: PurePosixPath) -> Path | None:
    """The file on this machine that service ``name`` sees at ``container_path``."""
    for source, target in _volumes(name):
        if _is_bind(source) and container_path.is_relative_to(target):
            return DEPLOY / source / container_path.relative_to(target)
    return None


def _mounted(name: str, container_path: PurePosixPath) -> bool:
    return any(container_path.is_relative_to(target) for _, target in _volumes(name))


def _aggregator_config(name: str) -> tuple[NetworkConfig, argparse.Namespace, Path]:
    """The aggregator's configuration as it would load it in its container."""
    args = _parse(_command(name), name)
    container_path = PurePosixPath(str(args.config))
    host_path = _host_path(name, container_path)
    assert host_path is not None, f"{name}: --config {container_path} is not mounted from deploy/"
    assert host_path.is_file(), f"{name}: --config {container_path} is {host_path}, missing"
    return load_config(host_path), args, host_path


def _aggregator_listen(name: str) -> tuple[str, int]:
    config, args, _ = _aggregator_config(name)
    host = args.host if args.host is not None else config.host
    port = args.port if args.port is not None else config.port
    return host, port


def _listen(name: str) -> tuple[str, int]:
    role = ROLES[name]
    if role == "beacon":
        return _beacon_listen(name)
    if role == "aggregator":
        return _aggregator_listen(name)
    return "0.0.0.0", POSTGRES_PORT


def _container_ports(name: str) -> Iterator[tuple[str, int]]:
    """("ports"/"expose", container port) of each port the service declares."""
    service = SERVICES[name]
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            yield "ports", int(entry["target"])
        else:
            yield "ports", int(str(entry).split(":")[-1].split("/")[0])
    for entry in service.get("expose") or []:
        yield "expose", int(str(entry).split("/")[0])


def _networks(name: str) -> set[str]:
    raw = SERVICES[name].get("networks")
    if raw is None:
        return {"default"}
    return set(raw)


def _depends_on(name: str) -> dict[str, str]:
    """Dependency -> condition."""
    raw = SERVICES[name].get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {dep: (spec or {}).get("condition", "service_started") for dep, spec in raw.items()}


@functools.cache
def _routes(role: str) -> frozenset[str]:
    """The paths the beacon's or the aggregator's app answers (built, never started)."""
    if role == "beacon":
        from beacon.web import create_app as create_beacon

        app = create_beacon(Settings(), dsn="postgresql://nobody@localhost/none")
    else:
        from aggregator.web import create_app as create_aggregator

        app = create_aggregator(NetworkConfig())
    return frozenset(resource.canonical for resource in app.router.resources())


# --- the compose file --------------------------------------------------------------------


def test_the_compose_file_describes_a_network() -> None:
    assert "version" not in COMPOSE, "the top-level `version` key is obsolete in compose v2"
    assert BEACONS, "no service runs `beacon serve`"
    assert len(AGGREGATORS) == 1, f"one aggregator expected, found {AGGREGATORS}"
    assert DATABASES, "no PostgreSQL service"
    assert set(BEACONS) | set(AGGREGATORS) | set(DATABASES) == set(SERVICES)
    assert {"BEACON_DATABASE_URL", "BEACON_HOST", "BEACON_PORT"} <= BEACON_VARIABLES


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_each_service_has_an_image_that_exists(name: str) -> None:
    service = SERVICES[name]
    build = _build(service)
    if build is None:
        image = str(service.get("image", ""))
        repository, _, tag = image.partition(":")
        assert repository, f"{name}: neither build nor image"
        assert tag, f"{name}: pin the image's version ({image!r})"
        assert tag != "latest", f"{name}: pin the image's version ({image!r})"
        return
    context, dockerfile = build
    assert context.is_dir(), f"{name}: build context {context} does not exist"
    assert dockerfile.is_file(), f"{name}: Dockerfile {dockerfile} does not exist"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_each_service_restarts_and_reports_its_health(name: str) -> None:
    service = SERVICES[name]
    assert service.get("restart") in {"always", "unless-stopped"}, f"{name}: no restart policy"
    healthcheck = service.get("healthcheck") or {}
    assert healthcheck.get("test"), f"{name}: no health check"
    assert not healthcheck.get("disable"), f"{name}: health check disabled"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_env_files_volumes_networks_and_dependencies_exist(name: str) -> None:
    service = SERVICES[name]
    for path in _env_file_paths(service):
        assert path.is_file(), f"{name}: env_file {path} does not exist"
        _read_env_file(path)
    declared_volumes = set(COMPOSE.get("volumes") or {})
    for source, target in _volumes(name):
        assert target.startswith("/"), f"{name}: volume target {target!r} is not absolute"
        if _is_bind(source):
            assert (DEPLOY / source).exists(), f"{name}: bind source {source} does not exist"
        else:
            assert source in declared_volumes, f"{name}: volume {source!r} is not declared"
    declared_networks = set(COMPOSE.get("networks") or {}) | {"default"}
    for network in _networks(name):
        assert network in declared_networks, f"{name}: network {network!r} is not declared"
    for dependency, condition in _depends_on(name).items():
        assert dependency in SERVICES, f"{name}: depends on unknown service {dependency!r}"
        assert condition in {
            "service_started",
            "service_healthy",
            "service_completed_successfully",
        }, f"{name}: unknown condition {condition!r}"
        if condition == "service_healthy":
            assert SERVICES[dependency].get("healthcheck"), f"{dependency} has no health check"
        assert _networks(name) & _networks(dependency), f"{name} cannot reach {dependency}"


@pytest.mark.parametrize("name", DATABASES)
def test_postgres_keeps_its_data_on_a_volume_and_is_not_published(name: str) -> None:
    service = SERVICES[name]
    env = _environment_block(service)
    data = env.get("PGDATA", "/var/lib/postgresql/data")
    volumes = [(s, t) for s, t in _volumes(name) if PurePosixPath(data).is_relative_to(t)]
    assert volumes, f"{name}: {data} is not on a volume (the data would die with the container)"
    assert all(not _is_bind(s) for s, _ in volumes), f"{name}: keep the data on a named volume"
    assert not service.get("ports"), f"{name}: the database must not be published on the host"
    assert "command" not in service, f"{name}: a command could move it off port {POSTGRES_PORT}"
    assert "PGPORT" not in env
    for key in ("POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD"):
        assert env.get(key), f"{name}: {key} not set"
    test = [str(part) for part in (service.get("healthcheck") or {}).get("test") or []]
    assert "pg_isready" in " ".join(test), f"{name}: the health check does not ask PostgreSQL"
    words = shlex.split(" ".join(test[1:]))
    if "-U" in words:
        assert words[words.index("-U") + 1] == env["POSTGRES_USER"], f"{name}: pg_isready -U"
    if "-d" in words:
        assert words[words.index("-d") + 1] == env["POSTGRES_DB"], f"{name}: pg_isready -d"


# --- settings and secrets ----------------------------------------------------------------


@pytest.mark.parametrize("name", BEACONS)
def test_beacon_variables_are_ones_the_beacon_reads(name: str) -> None:
    env = _environment(name)
    asyncpg_reads = _variables_asyncpg_reads()
    assert "PGPASSWORD" in asyncpg_reads, "asyncpg's source no longer reads PGPASSWORD here"
    for key in env:
        if key.startswith("BEACON_"):
            assert key in BEACON_VARIABLES, f"{name}: {key} is not read by the beacon (typo?)"
        else:
            assert key in asyncpg_reads, f"{name}: {key} is read by neither beacon nor asyncpg"


def test_every_env_file_is_used_by_a_service() -> None:
    used = {path.resolve() for s in SERVICES.values() for path in _env_file_paths(s)}
    present = {path.resolve() for path in (DEPLOY / "config").glob("*.env")}
    assert present, "no env files in deploy/config"
    assert present <= used, f"env files no service reads: {sorted(present - used)}"


@pytest.mark.parametrize("name", BEACONS)
def test_each_site_loads_and_uses_its_own_database(name: str) -> None:
    settings, _ = _beacon_settings(name)  # raises on a value that does not parse
    assert settings.database_url, f"{name}: no BEACON_DATABASE_URL (would start an embedded PG)"
    url = urlsplit(settings.database_url)
    assert url.scheme in {"postgresql", "postgres"}, f"{name}: {settings.database_url}"
    assert url.password is None, f"{name}: a password written into BEACON_DATABASE_URL"
    database = url.hostname or ""
    assert ROLES.get(database) == "postgres", f"{name}: {database!r} is no PostgreSQL service"
    assert _depends_on(name).get(database) == "service_healthy", f"{name}: wait for {database}"
    assert _networks(name) & _networks(database), f"{name} cannot reach {database}"
    assert (url.port or POSTGRES_PORT) == POSTGRES_PORT, f"{name}: wrong port for {database}"
    db_env = _environment_block(SERVICES[database])
    assert url.username == db_env["POSTGRES_USER"], f"{name}: user is not {database}'s"
    assert url.path.lstrip("/") == db_env["POSTGRES_DB"], f"{name}: not {database}'s database"
    # The password it sends is the one the database was created with.
    beacon_password = _environment_block(SERVICES[name]).get("PGPASSWORD", "")
    assert beacon_password == db_env["POSTGRES_PASSWORD"], f"{name}: not {database}'s password"
    others = {urlsplit(_beacon_settings(b)[0].database_url or "").hostname for b in BEACONS}
    assert len(others) == len(BEACONS), "two beacons share a database"
    ids = {_beacon_settings(b)[0].beacon_id for b in BEACONS}
    assert len(ids) == len(BEACONS), "two sites share a BEACON_ID"


@pytest.mark.parametrize("name", BEACONS)
def test_beacon_files_it_reads_are_mounted(name: str) -> None:
    settings, _ = _beacon_settings(name)
    if settings.trusted_issuers_file is not None:
        path = PurePosixPath(str(settings.trusted_issuers_file))
        assert path.is_absolute(), f"{name}: BEACON_TRUSTED_ISSUERS must be absolute"
        assert _mounted(name, path), f"{name}: {path} is not on any volume"


def test_no_secret_is_written_in_a_file() -> None:
    for path in sorted((DEPLOY / "config").glob("*.env")):
        for key, value in _read_env_file(path).items():
            assert not SECRET_NAME.search(key), f"{path.name}: {key} belongs outside files"
            if "://" in value:
                assert urlsplit(value).password is None, f"{path.name}: password in {key}"
    variables: dict[str, set[str]] = {}
    for name, service in SERVICES.items():
        for key, value in _environment_block(service).items():
            if SECRET_NAME.search(key):
                match = REQUIRED_VARIABLE.match(value)
                assert match, f"{name}: {key} must be a required ${{VAR:?...}} with no default"
                variables.setdefault(match["name"], set()).add(name)
            elif "://" in value:
                password = urlsplit(value).password
                assert password is None or REQUIRED_VARIABLE.match(password), f"{name}: {key}"
    # One password per site: no two databases share one.
    databases = [{n for n in names if ROLES[n] == "postgres"} for names in variables.values()]
    assert all(len(d) <= 1 for d in databases), f"databases share a password: {variables}"


# --- commands ----------------------------------------------------------------------------


def _documented_runs() -> list[tuple[str, list[str]]]:
    """(service, argv) of each ``docker compose ... run ... SERVICE CMD`` in the header."""
    options_with_value = {"-v", "--volume", "-e", "--env", "--name", "-w", "--workdir", "-u"}
    runs = []
    for line in COMPOSE_FILE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#") or "docker compose" not in line or " run " not in line:
            continue
        words = shlex.split(line.lstrip("# "))
        rest = words[words.index("run") + 1 :]
        while rest and rest[0].startswith("-"):
            option = rest.pop(0)
            if option in options_with_value:
                rest.pop(0)
        runs.append((rest[0], rest[1:]))
    return runs


def test_commands_parse_with_the_projects_parsers() -> None:
    for name in BEACONS + AGGREGATORS:
        _parse(_command(name), name)
    for _, dockerfile in BUILDS:
        _parse(_dockerfile_cmd(dockerfile), f"{dockerfile.name} CMD")
    runs = _documented_runs()
    assert runs, "the compose file's header shows no `docker compose run` command"
    for service, argv in runs:
        assert service in SERVICES, f"documented `run` names unknown service {service!r}"
        _parse(argv, f"documented `run {service}`")


# --- ports -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BEACONS + AGGREGATORS)
def test_services_listen_where_they_are_reached(name: str) -> None:
    host, port = _listen(name)
    assert host in ALL_INTERFACES, f"{name} listens on {host}: unreachable from other containers"
    declared = list(_container_ports(name))
    assert declared, f"{name}: no port exposed or published"
    for kind, target in declared:
        assert target == port, f"{name}: {kind} names port {target}, it listens on {port}"
    healthcheck = SERVICES[name].get("healthcheck") or {}
    test = " ".join(str(part) for part in healthcheck.get("test") or [])
    urls = re.findall(r"https?://[^\s'\"]+", test)
    assert urls, f"{name}: the health check asks no URL"
    for raw in urls:
        url = urlsplit(raw)
        assert url.hostname in {"127.0.0.1", "localhost"}, f"{name}: health check asks {raw}"
        assert url.port == port, f"{name}: health check asks port {url.port}, not {port}"
        assert url.path in _routes(ROLES[name]), f"{name}: {url.path} is not a route"


def test_the_aggregator_is_published_where_it_listens() -> None:
    (name,) = AGGREGATORS
    published = [target for kind, target in _container_ports(name) if kind == "ports"]
    assert published == [_aggregator_listen(name)[1]]


# --- the network -------------------------------------------------------------------------


def test_network_toml_names_the_compose_beacons() -> None:
    (name,) = AGGREGATORS
    config, _, host_path = _aggregator_config(name)
    assert host_path.resolve() == (DEPLOY / "config" / "network.toml").resolve()
    assert config.members, "network.toml has no members"
    reached = set()
    for member in config.members:
        url = urlsplit(member.url)
        service = url.hostname or ""
        assert ROLES.get(service) == "beacon", f"{member.id}: {service!r} is no beacon service"
        port = url.port or (443 if url.scheme == "https" else 80)
        listen = _beacon_listen(service)[1]
        assert port == listen, f"{member.id}: port {port}, but {service} listens on {listen}"
        info = url.path.rstrip("/") + "/info"
        assert info in _routes("beacon"), f"{member.id}: the beacon answers no {info}"
        assert _networks(name) & _networks(service), f"{name} cannot reach {service}"
        assert service in _depends_on(name), f"{name} does not start after {service}"
        reached.add(service)
    assert reached == set(BEACONS), f"beacons not in network.toml: {set(BEACONS) - reached}"


def test_the_aggregator_reaches_no_database() -> None:
    (name,) = AGGREGATORS
    for database in DATABASES:
        assert not _networks(name) & _networks(database), f"{name} can reach {database}"


def test_aggregator_paths_are_inside_its_container() -> None:
    (name,) = AGGREGATORS
    config, args, host_path = _aggregator_config(name)
    container_dir = PurePosixPath(str(args.config)).parent
    document = tomllib.loads(host_path.read_text(encoding="utf-8"))
    in_container = parse_config(document, base_dir=Path(str(container_dir)))
    for key in ("schema_dir", "ca_file"):
        path = getattr(in_container, key)
        if path is None:
            continue
        assert _mounted(name, PurePosixPath(str(path))), f"network.{key} = {path} is not mounted"
        host = _host_path(name, PurePosixPath(str(path)))
        assert host is None or host.exists(), f"network.{key}: {host} does not exist"
    assert config.members == in_container.members


# --- the Dockerfile ----------------------------------------------------------------------


def _dockerignore_patterns(dockerfile: Path, context: Path) -> list[str]:
    for candidate in (
        dockerfile.with_name(dockerfile.name + ".dockerignore"),
        context / ".dockerignore",
    ):
        if candidate.is_file():
            lines = candidate.read_text(encoding="utf-8").splitlines()
            return [s.strip() for s in lines if s.strip() and not s.strip().startswith("#")]
    return []


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    pattern = pattern.strip("/")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(f"^{out}$")


def _ignored(relative: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _pattern_regex(pattern.lstrip("!"))
        if any(regex.match(c) for c in candidates):
            ignored = not negate
    return ignored


def _copies(instructions: list[tuple[str, str]]) -> list[tuple[list[str], PurePosixPath]]:
    """(sources, container destination of each) of every COPY/ADD from the build context."""
    workdir = PurePosixPath("/")
    found = []
    for keyword, arguments in instructions:
        if keyword == "WORKDIR":
            workdir = workdir / arguments
        if keyword not in {"COPY", "ADD"}:
            continue
        words = shlex.split(arguments)
        if any(w.startswith("--from") for w in words):
            continue
        words = [w for w in words if not w.startswith("--")]
        *sources, destination = words
        dest = workdir / destination
        for source in sources:
            into_dir = destination.endswith("/") or len(sources) > 1
            found.append(([source], dest / Path(source).name if into_dir else dest))
    return found


@pytest.mark.parametrize("build", sorted(BUILDS), ids=lambda b: str(b[1].relative_to(REPO)))
def test_the_dockerfile_installs_the_project(build: tuple[Path, Path]) -> None:
    context, dockerfile = build
    instructions = _dockerfile_instructions(dockerfile)
    keywords = [keyword for keyword, _ in instructions]

    base = next(arguments for keyword, arguments in instructions if keyword == "FROM")
    match = re.match(r"python:(\d+\.\d+)", base)
    assert match, f"FROM {base}: expected an official python image"
    requires = SpecifierSet(PYPROJECT["project"]["requires-python"])
    assert requires.contains(match[1]), f"FROM {base}: not {requires}"

    patterns = _dockerignore_patterns(dockerfile, context)
    copied: dict[PurePosixPath, str] = {}
    for sources, destination in _copies(instructions):
        for source in sources:
            path = context / source
            assert path.exists(), f"COPY {source}: not in the build context {context}"
            assert not _ignored(source, patterns), f"COPY {source}: excluded by dockerignore"
            files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
            for file in files:
                relative = file.relative_to(context).as_posix()
                if "__pycache__" in relative or relative.endswith(".pyc"):
                    continue
                assert not _ignored(relative, patterns), f"{relative}: excluded by dockerignore"
            copied[destination] = source

    runs = [
        (i, arguments) for i, (keyword, arguments) in enumerate(instructions) if keyword == "RUN"
    ]
    installs = [(i, a) for i, a in runs if re.search(r"pip install\b(?:(?!&&).)*\s\.(\s|$)", a)]
    assert installs, "no `pip install .` (a regular install of the project) in a RUN"
    install_at, install = installs[0]
    assert not re.search(r"\s(-e|--editable)\s", install), "an editable install needs the tree"
    workdir = PurePosixPath("/")
    for keyword, arguments in instructions[:install_at]:
        if keyword == "WORKDIR":
            workdir = workdir / arguments
    # What `pip install .` needs, read from pyproject.toml.
    setuptools = PYPROJECT["tool"]["setuptools"]
    needed = {"pyproject.toml", PYPROJECT["project"]["readme"]}
    needed |= {p.rstrip("*") for p in setuptools["packages"]["find"]["include"]}
    needed |= {g.split("/")[0] for gs in setuptools["data-files"].values() for g in gs}
    for item in sorted(needed):
        assert workdir / item in copied, f"`pip install .` in {workdir} needs {item} copied"

    users = [arguments for keyword, arguments in instructions if keyword == "USER"]
    assert users, "the image runs as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}, "the image runs as root"
    assert keywords.index("USER") > install_at, "USER before the install: pip would fail"
    created = " ".join(a for _, a in runs)
    if user.isdigit():
        assert re.search(rf"useradd\b.*(--uid|-u)\s+{user}\b", created), f"uid {user} not created"
    else:
        assert re.search(rf"useradd\b.*\s{re.escape(user)}(\s|$)", created), f"{user} not created"

    scripts = set(PYPROJECT["project"]["scripts"])
    assert "ENTRYPOINT" not in keywords or all(
        _exec_form(a, "ENTRYPOINT")[0] in scripts for k, a in instructions if k == "ENTRYPOINT"
    )
    cmd = _dockerfile_cmd(dockerfile)
    assert cmd[0] in scripts, f"CMD runs {cmd[0]!r}, not one of the console scripts {scripts}"
    _parse(cmd, f"{dockerfile.name} CMD")
