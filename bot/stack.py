"""Starts the action server, the Rasa server and the gateway on loopback, waits until all are
healthy, and stops them cleanly. Used by `make run`, `make shell`, the end-to-end tests and the
benchmarks.

Two virtual environments, two processes: the action server runs on this interpreter
(.venv, Python 3.11), Rasa from .venv-rasa (Python 3.10); the gateway (shopper API and
staff console) on this interpreter too.
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

import yaml

from bot.settings import PROJECT_ROOT, child_environment, get_settings
from bot.shared_secrets import action_server_secret, rasa_secret

RASA_BIN = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
# Rasa's SQL tracker store, keeping no proof value in clear.
TRACKER_STORE = "rasa_components.redacting_tracker_store.RedactingTrackerStore"
HOST = "127.0.0.1"


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
    def __init__(
        self,
        model: Path,
        rasa_port: int = 5005,
        action_port: int = 5055,
        gateway_port: int | None = 8000,
        log_dir: Path = PROJECT_ROOT / "var" / "log",
        env: dict[str, str] | None = None,
        tracker_url: str | None = None,
    ) -> None:
        self.model = Path(model)
        self.tracker_url = tracker_url or tracker_database_url()
        self.rasa_port = rasa_port
        self.action_port = action_port
        self.gateway_port = gateway_port  # None: no gateway (Rasa and actions only)
        self.log_dir = Path(log_dir)
        # The keys, resolved once, reach the children through their environment, never their
        # command lines (anyone on the host can read those with ps).
        self.env = child_environment(
            {
                "RASA_TELEMETRY_ENABLED": "false",
                "PYTHONPATH": str(PROJECT_ROOT),  # Rasa imports rasa_components/ from here
                "RASA_SECRET": rasa_secret(),
                "ACTION_SERVER_SECRET": action_server_secret(),
                **(env or {}),
            }
        )
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def rasa_url(self) -> str:
        return f"http://{HOST}:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://{HOST}:{self.action_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://{HOST}:{self.gateway_port}"

    def rasa_headers(self) -> dict[str, str]:
        """What a script or test sends to this stack's Rasa (its REST channel)."""
        return {"Authorization": f"Bearer {self.env['RASA_SECRET']}"}

    def action_headers(self) -> dict[str, str]:
        """What a script or test sends to this stack's action server."""
        return {"Authorization": f"Bearer {self.env['ACTION_SERVER_SECRET']}"}

    def endpoints_file(self) -> Path:
        """The project's endpoints.yml, pointed at this stack's action server and tracker
        database (Rasa takes a full database URL as the SQL tracker store's url). The action
        server's key is named, not written: Rasa expands `${ACTION_SERVER_SECRET}` from its
        environment."""
        endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text()) or {}
        key = {"Authorization": "Bearer ${ACTION_SERVER_SECRET}"}
        endpoints["action_endpoint"] = {"url": f"{self.action_url}/webhook", "headers": key}
        endpoints["nlg"] = {"url": f"{self.action_url}/nlg", "headers": key}
        endpoints["tracker_store"] = {
            "type": TRACKER_STORE,
            "url": rasa_database_url(self.tracker_url),
        }
        path = self.log_dir / f"endpoints-{self.rasa_port}.yml"
        path.write_text(yaml.safe_dump(endpoints))
        return path

    def check_ports_free(self) -> None:
        for port in (self.rasa_port, self.action_port, self.gateway_port):
            if port is not None and port_in_use(port):
                raise RuntimeError(
                    f"{HOST}:{port} is already in use (is the assistant already running?)"
                )

    def start_actions(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._spawn(
            "actions",
            [
                sys.executable,
                "-m",
                "actions.server",
                "--host",
                HOST,
                "--port",
                str(self.action_port),
            ],
        )

    def start_rasa(self) -> None:
        self._spawn(
            "rasa",
            [
                str(RASA_BIN),
                "run",  # no --enable-api: the REST channel is the only way in
                "-i",
                HOST,
                "-p",
                str(self.rasa_port),
                "-m",
                str(self.model),
                "--endpoints",
                str(self.endpoints_file()),
                "--credentials",
                str(PROJECT_ROOT / "credentials.yml"),
            ],
        )

    def start_gateway(self) -> None:
        self._spawn(
            "gateway",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bot.gateway.app:create_app",
                "--factory",
                "--host",
                HOST,
                "--port",
                str(self.gateway_port),
                "--no-access-log",  # URLs carry conversation ids, the shoppers' keys
                "--no-proxy-headers",  # X-Forwarded-*: only from TRUSTED_PROXIES (app.py)
                "--timeout-graceful-shutdown",
                "3",  # open event streams (web widget) must not hold up a stop
            ],
            # Rasa's trackers too: `bot privacy` and the retention purge reach them.
            extra_env={"RASA_URL": self.rasa_url, "TRACKER_DATABASE_URL": self.tracker_url},
        )

    def log_path(self, name: str) -> Path:
        port = {"actions": self.action_port, "rasa": self.rasa_port}.get(name, self.gateway_port)
        return self.log_dir / f"{name}-{port}.log"

    def _spawn(self, name: str, command: list[str], extra_env: dict | None = None) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path(name), "w")  # noqa: SIM115
        self.processes[name] = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env={**self.env, **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_healthy(self, timeout: float = 240) -> None:
        checks = {
            "actions": f"{self.action_url}/health",
            "rasa": f"{self.rasa_url}/webhooks/rest/",  # 200 once the model is loaded
            "gateway": f"{self.gateway_url}/health",
        }
        checks = {name: url for name, url in checks.items() if name in self.processes}
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


def _interrupt(*_: object) -> None:
    """SIGTERM and SIGINT (Ctrl-C) stop the stack."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the assistant on loopback.")
    parser.add_argument("mode", choices=["run", "shell"])
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--port", type=int, default=5005)
    parser.add_argument("--action-port", type=int, default=5055)
    parser.add_argument("--gateway-port", type=int, default=8000)
    args = parser.parse_args(argv)

    gateway_port = args.gateway_port if args.mode == "run" else None
    stack = Stack(args.model, args.port, args.action_port, gateway_port)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # also when started with SIGINT ignored
    try:
        if args.mode == "shell":
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
        print(
            "Starting the action server, the Rasa server and the gateway "
            "(loading the model takes ~30 s)..."
        )
        with stack:
            print(
                f"\nThe assistant is running.\n"
                f"  Talk to it:    {stack.gateway_url}/api/conversations (POST to start, then "
                f'POST {{"text": ...}} to .../{{id}}/messages)\n'
                f"  Or in the terminal: make shell\n"
                f"  Staff console: {stack.gateway_url}/console "
                f"(create an account: .venv/bin/bot staff add NAME)\n"
                f"  Rasa:          {stack.rasa_url}   Action server: {stack.action_url} "
                f"(keys: docs/operations.md)\n"
                f"  Logs:          {stack.log_dir}\n"
                f"Press Ctrl-C to stop.",
                flush=True,
            )
            while all(p.poll() is None for p in stack.processes.values()):
                time.sleep(1)
            print("A server stopped unexpectedly; see the logs.", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        print("\nStopping...", flush=True)
        return 0
    except RuntimeError as error:
        print(f"Could not start: {error}", file=sys.stderr)
        return 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
