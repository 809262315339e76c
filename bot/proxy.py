"""nginx in front of several gateways on one machine: one address for shoppers, staff and the
platforms' webhooks, spread over the gateways, skipping one that is down (docs/operations.md,
"Several gateways and Rasa servers").

The config is written whole for each run, under the run's own directory (pid file, temp
files; errors go to stderr), so nginx needs nothing of /etc/nginx or /var/lib/nginx and runs
as root or not.
What it must get right for this project:
- Server-Sent Events (the widget's `/api/conversations/{id}/events`, the console's
  `/console/events`) pass through unbuffered and may stay open for hours;
- the gateways learn the shopper's address from `X-Forwarded-For`, set here from the
  connection (never appended to what the client sent), and believe it because they run with
  `TRUSTED_PROXIES=127.0.0.1`;
- no access log, and no error lines about requests (they quote the URL): URLs carry
  conversation ids, the shoppers' keys;
- bodies a little over MAX_REQUEST_BYTES get through, so the gateway answers 413 itself.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

NGINX = Path("/usr/sbin/nginx")
# Room over MAX_REQUEST_BYTES: the gateway, not nginx, refuses an oversized body (413, JSON).
BODY_SLACK_BYTES = 64 * 1024
# A long poll waits up to 30 s and a message's answer may wait on Rasa and the action server;
# the event streams send a keep-alive every 15 s, but may stay open for hours.
READ_TIMEOUT_SECONDS = 120
STREAM_TIMEOUT_SECONDS = 3600
# A gateway that refused a connection is skipped this long (then tried again).
FAIL_TIMEOUT_SECONDS = 10
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
# Unprivileged workers when the master runs as root (Debian's nobody and its group).
WORKER_USER = "nobody"


def nginx_config(
    run_dir: Path,
    port: int,
    upstreams: Sequence[str],
    max_request_bytes: int,
    host: str = "127.0.0.1",
    worker_user: str | None = None,
) -> str:
    """The whole nginx config: listen on `host:port`, pass everything to `upstreams` (the
    gateways' `http://host:port` URLs). `worker_user` ("user group") when nginx starts as
    root."""
    if not upstreams:
        raise ValueError("nginx needs at least one gateway")
    servers = "\n".join(
        f"        server {_host_port(url)} max_fails=1 fail_timeout={FAIL_TIMEOUT_SECONDS}s;"
        for url in upstreams
    )
    temp = "\n".join(f"    {name}_temp_path {run_dir / name};" for name in TEMP_DIRS)
    user = f"user {worker_user};\n" if worker_user else ""
    return f"""\
# Written by bot/proxy.py for this run: nginx in front of the gateways.
daemon off;
{user}worker_processes 1;
pid {run_dir / "nginx.pid"};
# Its errors about a request name the URL: only failures of nginx itself are logged.
error_log stderr crit;

events {{
    worker_connections 4096;
}}

http {{
    # URLs carry conversation ids, the shoppers' keys: nothing is logged per request.
    access_log off;
    log_not_found off;
    server_tokens off;
{temp}
    # The gateway refuses a larger body itself (413) and reads it within MAX_REQUEST_BYTES.
    client_max_body_size {max_request_bytes + BODY_SLACK_BYTES};

    upstream gateways {{
{servers}
        keepalive 32;
    }}

    server {{
        listen {host}:{port};

        # The gateways believe these from 127.0.0.1 only (TRUSTED_PROXIES). Set from the
        # connection, not appended to a client's own X-Forwarded-For: nginx is the edge.
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        # Event streams go out as the gateway writes them; nothing else is large. Bodies go
        # through as they arrive too (the gateway caps them): no temp files in either way.
        proxy_buffering off;
        proxy_request_buffering off;
        proxy_cache off;
        proxy_connect_timeout 2s;
        proxy_send_timeout {READ_TIMEOUT_SECONDS}s;
        proxy_read_timeout {READ_TIMEOUT_SECONDS}s;
        # A gateway down or restarting: the request goes to the next one. nginx resends a
        # POST only if the first gateway never got it (connection refused), never after.
        proxy_next_upstream error timeout;
        proxy_next_upstream_tries {len(upstreams)};

        location / {{
            proxy_pass http://gateways;
        }}

        # Server-Sent Events: the widget's and the console's live updates.
        location ~ /events$ {{
            proxy_pass http://gateways;
            proxy_read_timeout {STREAM_TIMEOUT_SECONDS}s;
            proxy_send_timeout {STREAM_TIMEOUT_SECONDS}s;
        }}
    }}
}}
"""


def write_config(
    run_dir: Path,
    port: int,
    upstreams: Sequence[str],
    max_request_bytes: int,
    host: str = "127.0.0.1",
) -> Path:
    """Write `run_dir/nginx.conf`; returns its path. nginx makes its temp dirs there itself
    (for its workers' user when it starts as root)."""
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "nginx.conf"
    config = nginx_config(run_dir, port, upstreams, max_request_bytes, host, _worker_user())
    path.write_text(config)
    return path


def nginx_command(config: Path) -> list[str]:
    """nginx in the foreground on `config` (stop it with SIGTERM, or SIGQUIT to let requests
    finish), its errors on stderr from the start (`-e`), not in Debian's /var/log/nginx."""
    if not NGINX.exists():
        raise RuntimeError(f"{NGINX} is missing: install Debian's nginx (`make test` does)")
    run_dir = config.parent
    return [
        str(NGINX),
        "-p",
        str(run_dir),
        "-e",
        "stderr",
        "-c",
        str(config),
    ]


def check_config(config: Path) -> None:
    """`nginx -t` on the config: raises with nginx's own words if it is wrong."""
    checked = subprocess.run(
        [*nginx_command(config), "-t", "-q"], capture_output=True, text=True, check=False
    )
    if checked.returncode != 0:
        raise RuntimeError(f"nginx refused {config}:\n{checked.stderr.strip()}")


def _worker_user() -> str | None:
    """`user group` for nginx's workers when we are root (nginx ignores `user` otherwise)."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(WORKER_USER)
    return f"{entry.pw_name} {grp.getgrgid(entry.pw_gid).gr_name}"


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        raise ValueError(f"a gateway's URL must be http://host:port, not {url!r}")
    return f"{parts.hostname}:{parts.port}"
