"""Starts the action server, the Rasa server and the gateway on loopback, waits until all are
healthy, and stops them cleanly. Used by `make run`, `make shell`, the end-to-end tests and the
benchmarks.

Two virtual environments, two processes: the action server runs on this interpreter
(.venv, Python 3.11), Rasa from .venv-rasa (Python 3.10); the gateway (shopper API and
staff console) on this interpreter too.

Several of each on one machine (`python -m bot.stack run --gateways 2 --rasa 2`): Rasa servers
each with their own action server, sharing the tracker database and Redis as their lock store;
gateways behind nginx (bot/proxy.py), sharing Redis (bot/redis_server.py starts one under
var/redis when REDIS_URL is unset). docs/operations.md, "Several gateways and Rasa servers".
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import yaml

from bot import proxy
from bot.settings import PROJECT_ROOT, child_environment, get_settings
from bot.shared_secrets import action_server_secret, rasa_secret

if TYPE_CHECKING:
    from bot.redis_server import RedisServer

RASA_BIN = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
# Rasa's SQL tracker store, keeping no proof value in clear.
TRACKER_STORE = "rasa_components.redacting_tracker_store.RedactingTrackerStore"
HOST = "127.0.0.1"
RASA_LOCK_SECONDS = 10  # TICKET_LOCK_LIFETIME with Redis as Rasa's lock store
# Rasa's Redis lock store, with a waiting message's ticket kept alive (a dead server's no longer
# strands it).
RASA_LOCK_STORE = "rasa_components.lock_store.FailoverRedisLockStore"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def tracker_database_url() -> str:
    """`TRACKER_DATABASE_URL`: where Rasa keeps conversations; a SQLite file by default."""
    (PROJECT_ROOT / "var").mkdir(exist_ok=True)
    return get_settings().tracker_database_url


def rasa_database_url(url: str) -> str:
    """TRACKER_DATABASE_URL as Rasa's environment can open it: PostgreSQL through psycopg2
    there (`postgresql://`), whichever driver the URL names for ours (`postgresql+psycopg://`)."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql{sep}{rest}" if scheme.startswith("postgresql") else url


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((HOST, port)) == 0


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class Stack:
    """The assistant's processes on loopback. One of each by default; with `rasa_replicas`,
    Rasa server i talks to action server i (`rasa-1`, `actions-1`...: each on its own free
    port), and with `gateways` > 1 the gateways (`gateway`, `gateway-1`...) run on free ports
    behind nginx (`nginx`) on `gateway_port`. Every gateway gets every Rasa URL; with
    `redis_url`, every gateway gets REDIS_URL and every Rasa Redis as its lock store.
    Replica 0 keeps the plain names and the given ports."""

    def __init__(
        self,
        model: Path,
        rasa_port: int = 5005,
        action_port: int = 5055,
        gateway_port: int | None = 8000,
        log_dir: Path = PROJECT_ROOT / "var" / "log",
        env: dict[str, str] | None = None,
        tracker_url: str | None = None,
        *,
        rasa_replicas: int = 1,
        gateways: int = 1,
        redis_url: str | None = None,
    ) -> None:
        if rasa_replicas < 1 or gateways < 1:
            raise ValueError("at least one Rasa server and one gateway")
        self.model = Path(model)
        self.tracker_url = tracker_url or tracker_database_url()
        self.gateway_port = gateway_port  # None: no gateway (Rasa and actions only)
        self.log_dir = Path(log_dir)
        self.redis_url = redis_url or None
        taken = {rasa_port, action_port, gateway_port}
        self.rasa_ports = [rasa_port, *_free_ports(rasa_replicas - 1, taken)]
        self.action_ports = [action_port, *_free_ports(rasa_replicas - 1, taken)]
        if gateway_port is None:
            self.gateway_ports: list[int] = []
        elif gateways == 1:
            self.gateway_ports = [gateway_port]
        else:  # nginx on gateway_port, the gateways behind it
            self.gateway_ports = _free_ports(gateways, taken)
        # The keys, resolved once, reach the children through their environment, never their
        # command lines (anyone on the host can read those with ps).
        self.env = child_environment(
            {
                "RASA_TELEMETRY_ENABLED": "false",
                # OpenMP threads (the sentence encoders) sleep when idle instead of spinning:
                # spinning, they took the cores the other processes needed, and a Rasa server
                # sharing its cores spent 4-7 times the CPU per message (benchmarks/README.md).
                "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY") or "PASSIVE",
                "PYTHONPATH": str(PROJECT_ROOT),  # Rasa imports rasa_components/ from here
                "RASA_SECRET": rasa_secret(),
                "ACTION_SERVER_SECRET": action_server_secret(),
                **(env or {}),
            }
        )
        self.processes: dict[str, subprocess.Popen] = {}
        self._started: set[str] = set()  # a process started again appends to its log

    # --- where everything is ----------------------------------------------------------------

    @property
    def rasa_port(self) -> int:
        return self.rasa_ports[0]

    @property
    def action_port(self) -> int:
        return self.action_ports[0]

    @property
    def proxied(self) -> bool:
        """nginx in front: more than one gateway."""
        return len(self.gateway_ports) > 1

    @property
    def rasa_url(self) -> str:
        return self.rasa_urls[0]

    @property
    def rasa_urls(self) -> list[str]:
        return [f"http://{HOST}:{port}" for port in self.rasa_ports]

    @property
    def action_url(self) -> str:
        return self.action_urls[0]

    @property
    def action_urls(self) -> list[str]:
        return [f"http://{HOST}:{port}" for port in self.action_ports]

    @property
    def gateway_url(self) -> str:
        """Where shoppers and staff go: nginx's address with several gateways."""
        return f"http://{HOST}:{self.gateway_port}"

    @property
    def gateway_urls(self) -> list[str]:
        """Each gateway's own address (behind nginx with several)."""
        return [f"http://{HOST}:{port}" for port in self.gateway_ports]

    def names(self) -> list[str]:
        """Every process of this stack, in the order they start."""
        names = [_name("actions", i) for i in range(len(self.action_ports))]
        names += [_name("rasa", i) for i in range(len(self.rasa_ports))]
        names += [_name("gateway", i) for i in range(len(self.gateway_ports))]
        return names + (["nginx"] if self.proxied else [])

    def port_of(self, name: str) -> int:
        kind, index = _kind(name)
        if kind == "nginx":
            return self.gateway_port
        if kind == "gateway" and not self.gateway_ports:
            return self.gateway_port
        ports = {"actions": self.action_ports, "rasa": self.rasa_ports}
        return ports.get(kind, self.gateway_ports)[index]

    def health_url(self, name: str) -> str:
        kind, index = _kind(name)
        if kind == "actions":
            return f"{self.action_urls[index]}/health"
        if kind == "rasa":
            return f"{self.rasa_urls[index]}/webhooks/rest/"  # 200 once the model is loaded
        if kind == "gateway":
            return f"{self.gateway_urls[index]}/health"
        return f"{self.gateway_url}/health"  # nginx: a gateway answers through it

    def rasa_headers(self) -> dict[str, str]:
        """What a script or test sends to this stack's Rasa (its REST channel)."""
        return {"Authorization": f"Bearer {self.env['RASA_SECRET']}"}

    def action_headers(self) -> dict[str, str]:
        """What a script or test sends to this stack's action server."""
        return {"Authorization": f"Bearer {self.env['ACTION_SERVER_SECRET']}"}

    # --- configuration ----------------------------------------------------------------------

    def endpoints_file(self, index: int = 0) -> Path:
        """The project's endpoints.yml for Rasa server `index`, pointed at its action server,
        the tracker database (Rasa takes a full database URL as the SQL tracker store's url)
        and, with `redis_url`, Redis as the lock store. Keys are named, not written: Rasa
        expands `${ACTION_SERVER_SECRET}` and `${REDIS_PASSWORD}` from its environment."""
        endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text()) or {}
        key = {"Authorization": "Bearer ${ACTION_SERVER_SECRET}"}
        action_url = self.action_urls[index]
        endpoints["action_endpoint"] = {"url": f"{action_url}/webhook", "headers": key}
        endpoints["nlg"] = {"url": f"{action_url}/nlg", "headers": key}
        endpoints["tracker_store"] = {
            "type": TRACKER_STORE,
            "url": rasa_database_url(self.tracker_url),
        }
        if self.redis_url:
            endpoints["lock_store"] = rasa_lock_store(self.redis_url)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_dir / f"endpoints-{self.rasa_ports[index]}.yml"
        path.write_text(yaml.safe_dump(endpoints))
        return path

    def check_ports_free(self) -> None:
        for port in {*self.rasa_ports, *self.action_ports, *self.gateway_ports, self.gateway_port}:
            if port is not None and port_in_use(port):
                raise RuntimeError(
                    f"{HOST}:{port} is already in use (is the assistant already running?)"
                )

    # --- starting and stopping --------------------------------------------------------------

    def start_actions(self) -> None:
        """Every action server that is not running."""
        self._start_kind("actions")

    def start_rasa(self) -> None:
        """Every Rasa server that is not running."""
        self._start_kind("rasa")

    def start_gateway(self) -> None:
        """Every gateway that is not running, and nginx in front of several."""
        self._start_kind("gateway")
        self._start_kind("nginx")

    def start_process(self, name: str, timeout: float = 240) -> None:
        """Start one process again (on its port, with its settings) and wait until healthy."""
        if name not in self.names():
            raise ValueError(f"no process {name!r} in this stack: {self.names()}")
        if not self._running(name):
            self._spawn(name)
        self.wait_healthy(timeout, names=[name])

    def stop_process(self, name: str, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        """Stop one process (SIGKILL: a crash) and forget it, so the others' health checks
        and `main`'s watch do not count it; `start_process` brings it back."""
        stop_group(self.processes.pop(name), sig, timeout)

    def _start_kind(self, kind: str) -> None:
        for name in self.names():
            if _kind(name)[0] == kind and not self._running(name):
                self._spawn(name)

    def _running(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def _command(self, name: str) -> tuple[list[str], dict[str, str]]:
        """The command line and the extra environment of one process."""
        kind, index = _kind(name)
        port = str(self.port_of(name))
        if kind == "actions":
            return [sys.executable, "-m", "actions.server", "--host", HOST, "--port", port], {}
        if kind == "rasa":
            command = [
                str(RASA_BIN),
                "run",  # no --enable-api: the REST channel is the only way in
                "-i",
                HOST,
                "-p",
                port,
                "-m",
                str(self.model),
                "--endpoints",
                str(self.endpoints_file(index)),
                "--credentials",
                str(PROJECT_ROOT / "credentials.yml"),
            ]
            if not self.redis_url:
                return command, {}
            # The gateways already give a conversation one turn at a time; Rasa's lock only
            # guards against a turn retried on another server while the first is still
            # running. A server that died holding it frees it this many seconds on, not 60.
            extra = {"TICKET_LOCK_LIFETIME": str(RASA_LOCK_SECONDS)}
            if password := redis_password_of(self.redis_url):
                extra["REDIS_PASSWORD"] = password
            return command, extra
        if kind == "gateway":
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                "bot.gateway.app:create_app",
                "--factory",
                "--host",
                HOST,
                "--port",
                port,
                "--no-access-log",  # URLs carry conversation ids, the shoppers' keys
                "--no-proxy-headers",  # X-Forwarded-*: only from TRUSTED_PROXIES (app.py)
                "--timeout-graceful-shutdown",
                "3",  # open event streams (web widget) must not hold up a stop
            ]
            return command, self._gateway_env()
        if kind == "nginx":
            config = proxy.write_config(
                self.log_dir / f"nginx-{self.gateway_port}",
                self.gateway_port,
                self.gateway_urls,
                int(self.env.get("MAX_REQUEST_BYTES") or get_settings().max_request_bytes),
                HOST,
            )
            return proxy.nginx_command(config), {}
        raise ValueError(f"no process {name!r}")

    def _gateway_env(self) -> dict[str, str]:
        """Every Rasa server, Rasa's trackers too (`bot privacy` and the retention purge reach
        them), Redis, and nginx's forwarded headers believed when it is in front."""
        env = {"RASA_URL": ",".join(self.rasa_urls), "TRACKER_DATABASE_URL": self.tracker_url}
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        if self.proxied:
            trusted = [p.strip() for p in self.env.get("TRUSTED_PROXIES", "").split(",")]
            env["TRUSTED_PROXIES"] = ",".join(dict.fromkeys([*filter(None, trusted), HOST]))
        return env

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}-{self.port_of(name)}.log"

    def _spawn(self, name: str) -> None:
        command, extra_env = self._command(name)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path(name), "a" if name in self._started else "w")  # noqa: SIM115
        self._started.add(name)
        self.processes[name] = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env={**self.env, **extra_env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()  # the child has its own copy

    def wait_healthy(self, timeout: float = 240, names: list[str] | None = None) -> None:
        """Until every running process (or those named) answers its health check."""
        wanted = names if names is not None else list(self.processes)
        checks = {name: self.health_url(name) for name in wanted if name in self.processes}
        deadline = time.monotonic() + timeout
        while checks:
            for name, url in list(checks.items()):
                if self.processes[name].poll() is not None:
                    raise RuntimeError(f"{name} exited early:\n{self.log_tail(name)}")
                if _healthy(url):
                    del checks[name]
            if time.monotonic() > deadline:
                raise TimeoutError(f"not healthy after {timeout:.0f}s: {sorted(checks)}")
            time.sleep(0.5)

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.log_path(name)
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()

    def __enter__(self) -> Stack:
        self.check_ports_free()
        try:
            self.start_actions()
            self.start_rasa()
            if self.gateway_port is not None:
                self.start_gateway()
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def stop_group(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    """Send `sig` to a process started in its own session (and its children), and wait; one
    that does not end within `timeout` seconds is killed."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _name(kind: str, index: int) -> str:
    """Replica 0 keeps the plain name (`rasa`), the others are numbered (`rasa-1`)."""
    return kind if index == 0 else f"{kind}-{index}"


def _kind(name: str) -> tuple[str, int]:
    kind, _, index = name.partition("-")
    return kind, int(index or 0)


def _free_ports(count: int, taken: set) -> list[int]:
    """`count` free ports, none in `taken` nor twice (added to `taken`)."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in taken:
            taken.add(port)
            ports.append(port)
    return ports


def rasa_lock_store(redis_url: str) -> dict:
    """Rasa's RedisLockStore settings (rasa/core/lock_store.py: the endpoint's `url` is the
    host; port, db, username, password, use_ssl, key_prefix), from REDIS_URL. The password is
    named, not written: Rasa expands `${REDIS_PASSWORD}` from its environment. Rasa's locks
    are kept under `rasa:lock:`, apart from the gateways' keys."""
    parts = urlsplit(redis_url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError("REDIS_URL must be redis://... or rediss://...")
    store: dict = {
        "type": RASA_LOCK_STORE,
        "url": parts.hostname or "localhost",
        "port": parts.port or 6379,
        "db": int(parts.path.strip("/") or 0),
        "key_prefix": "rasa",
    }
    if parts.username:
        store["username"] = unquote(parts.username)
    if parts.password:
        store["password"] = "${REDIS_PASSWORD}"
    if parts.scheme == "rediss":
        store["use_ssl"] = True
    return store


def redis_password_of(redis_url: str | None) -> str:
    """The password in REDIS_URL ("" if none), for Rasa's environment."""
    return unquote(urlsplit(redis_url).password or "") if redis_url else ""


def _interrupt(*_: object) -> None:
    """SIGTERM and SIGINT (Ctrl-C) stop the stack."""
    raise KeyboardInterrupt


def newest_model() -> Path | None:
    """The most recently trained model in models/ (`make train` keeps only the current one)."""
    models = sorted((PROJECT_ROOT / "models").glob("assistant-*.tar.gz"), key=os.path.getmtime)
    return models[-1] if models else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bot stack", description="Run the assistant on loopback.")
    parser.add_argument("mode", choices=["run", "shell"])
    parser.add_argument(
        "--model", type=Path, default=newest_model(), help="default: the newest in models/"
    )
    parser.add_argument("--port", type=int, default=5005)
    parser.add_argument("--action-port", type=int, default=5055)
    parser.add_argument("--gateway-port", type=int, default=8000)
    parser.add_argument(
        "--gateways", type=int, default=1, help="gateways behind nginx on --gateway-port"
    )
    parser.add_argument(
        "--rasa", type=int, default=1, help="Rasa servers, each with its own action server"
    )
    args = parser.parse_args(argv)
    if args.model is None:
        parser.error("no model in models/: `make train` first, or give --model")
    if args.gateways < 1 or args.rasa < 1:
        parser.error("--gateways and --rasa take 1 or more")

    shell = args.mode == "shell"
    several = not shell and (args.gateways > 1 or args.rasa > 1)
    redis = None
    redis_url = get_settings().redis_url
    if several and not redis_url:
        from bot.redis_server import RedisServer  # imports this module

        redis = RedisServer(PROJECT_ROOT / "var" / "redis")
        redis_url = redis.url
    stack = Stack(
        args.model,
        args.port,
        args.action_port,
        None if shell else args.gateway_port,
        rasa_replicas=1 if shell else args.rasa,
        gateways=1 if shell else args.gateways,
        redis_url=redis_url or None,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # also when started with SIGINT ignored
    try:
        if shell:
            stack.check_ports_free()
            stack.start_actions()
            stack.wait_healthy()
            return subprocess.call(
                [
                    str(RASA_BIN),
                    "shell",
                    "-m",
                    str(args.model),
                    "-i",
                    HOST,
                    "-p",
                    str(args.port),
                    "--endpoints",
                    str(stack.endpoints_file()),
                ],
                cwd=PROJECT_ROOT,
                env=stack.env,
            )
        if redis is not None:
            redis.start()
        what = (
            f"{args.rasa} action server(s), {args.rasa} Rasa server(s) and {args.gateways} "
            f"gateway(s){' behind nginx' if args.gateways > 1 else ''}"
            if several
            else "the action server, the Rasa server and the gateway"
        )
        print(f"Starting {what} (loading the model takes ~30 s)...", flush=True)
        with stack:
            print(f"\nThe assistant is running.\n{where(stack, redis)}Press Ctrl-C to stop.")
            sys.stdout.flush()
            while all(p.poll() is None for p in stack.processes.values()):
                time.sleep(1)
            print("A server stopped unexpectedly; see the logs.", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        print("\nStopping...", flush=True)
        return 0
    except (RuntimeError, TimeoutError) as error:
        print(f"Could not start: {error}", file=sys.stderr)
        return 1
    finally:
        stack.stop()
        if redis is not None:
            redis.stop()


def where(stack: Stack, redis: RedisServer | None) -> str:
    """Where everything is, for the terminal (no key or password in it)."""
    lines = [
        f"  Talk to it:    {stack.gateway_url}/api/conversations (POST to start, then "
        f'POST {{"text": ...}} to .../{{id}}/messages)',
        "  Or in the terminal: make shell",
        f"  Staff console: {stack.gateway_url}/console "
        f"(create an account: .venv/bin/bot staff add NAME)",
    ]
    if stack.proxied:
        gateways = _ports(stack.gateway_urls)
        lines.append(f"  nginx:         {stack.gateway_url} -> gateways {gateways}")
    if len(stack.rasa_urls) > 1:
        lines.append(f"  Rasa:          {_ports(stack.rasa_urls)}")
        lines.append(f"  Action server: {_ports(stack.action_urls)} (keys: docs/operations.md)")
    else:
        lines.append(
            f"  Rasa:          {stack.rasa_url}   Action server: {stack.action_url} "
            f"(keys: docs/operations.md)"
        )
    if stack.redis_url:
        host = urlsplit(stack.redis_url)
        source = "REDIS_URL"
        if redis is not None:
            source = f"data in {redis.data_dir}, password in var/secrets/redis"
        lines.append(f"  Redis:         {host.hostname}:{host.port or 6379} ({source})")
    if len(stack.rasa_urls) > 1 and stack.tracker_url.startswith("sqlite"):
        lines.append(
            "  Trackers:      one SQLite file for every Rasa server (fine on one machine; "
            "PostgreSQL across machines)"
        )
    lines.append(f"  Logs:          {stack.log_dir}")
    return "\n".join(lines) + "\n"


def _ports(urls: list[str]) -> str:
    """`http://127.0.0.1:5005, :40123`: the host once."""
    first, *rest = urls
    return ", ".join([first, *(":" + url.rsplit(":", 1)[1] for url in rest)])


if __name__ == "__main__":
    sys.exit(main())
