"""nginx as the upstream of bench/workers.py: a fixed chat completion (about 750 bytes, like
a short real answer) for microseconds of CPU a call, so that the gateway is what is measured
(after shared/peer-bench/nginx-mock.conf, on a free port and in a directory of the run's own)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import _stack

REPLY = (
    '{"id":"chatcmpl-bench","object":"chat.completion","created":1741569952,'
    '"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant",'
    '"content":"Hello from the mock. This reply is about thirty tokens long so that parsing '
    'and token accounting cost roughly what a short real answer costs."},"finish_reason":'
    '"stop"}],"usage":{"prompt_tokens":26,"completion_tokens":31,"total_tokens":57}}'
)
NGINX_CONF = """worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; multi_accept on; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /v1/chat/completions {{
            default_type application/json;
            return 200 '{reply}';
        }}
    }}
}}
"""


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if found is None:
        sys.exit(f"{name} is not installed: apt-get install -y nginx-light wrk")
    return found


def start(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _stack.free_port()
    directory.mkdir()
    conf = directory / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=directory, port=port, reply=REPLY))
    proc = subprocess.Popen(
        [tool("nginx"), "-p", str(directory), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=(directory / "nginx.out").open("wb"),
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(
                urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", b"{}"),
                timeout=1,
            ):
                return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"nginx did not start: {(directory / 'nginx.out').read_text()}")
