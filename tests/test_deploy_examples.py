"""The examples under deploy/ that docs/deployment.md tells operators to install: the systemd
unit verifies, starts the command `modelyard serve` accepts, is hardened and waits out a drain;
its environment file is valid settings with no secret in it; the nginx site passes `nginx -t`.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import typer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.engine import make_url

from modelyard.cli import app
from modelyard.settings import Settings

DEPLOY = Path(__file__).parent.parent / "deploy"
UNIT = DEPLOY / "systemd" / "modelyard.service"
ENV_FILE = DEPLOY / "systemd" / "modelyard.env"
NGINX_SITE = DEPLOY / "nginx" / "modelyard.conf"
NOT_MODELYARD = {"PGPASSFILE", "FORWARDED_ALLOW_IPS"}  # read by asyncpg and by uvicorn
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD", re.IGNORECASE)


def _unit() -> dict[str, list[str]]:
    """The [Service] section as `key -> values` (systemd keys may repeat)."""
    section, values = "", defaultdict(list)
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service":
            key, _, value = line.partition("=")
            values[key].append(value)
    return values


def _env_file() -> dict[str, str]:
    pairs = {}
    for line in ENV_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, line
            assert key == key.strip(), line
            assert key.isupper(), line
            pairs[key] = value
    return pairs


def _seconds(value: str) -> float:
    """A systemd time span as this unit writes them: ``45s``, ``2min`` or bare seconds."""
    match = re.fullmatch(r"(\d+)(s|min)?", value)
    assert match is not None, f"unexpected time span {value!r}"
    return float(match[1]) * (60 if match[2] == "min" else 1)


def _drain_budget_s(env: dict[str, str]) -> float:
    """Drain delay + drain timeout as the service runs: the environment file's, else the
    settings' defaults (0 and 30 s, the documented ones, until those settings exist here)."""
    fields = Settings.model_fields
    total = 0.0
    for name, documented in (("drain_delay_s", 0.0), ("drain_timeout_s", 30.0)):
        default = fields[name].default if name in fields else documented
        total += float(env.get(f"MODELYARD_{name.upper()}", default))
    return total


def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the unit's own checks still run)")
    # verify wants ExecStart's program to exist: point it at this checkout's modelyard
    here = Path(sys.executable).with_name("modelyard")
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/modelyard/venv/bin/modelyard", str(here)))
    done = subprocess.run(
        [analyze, "verify", str(unit)], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert UNIT.name not in done.stderr, done.stderr  # an unknown key or bad value is a warning


def test_the_unit_starts_what_modelyard_serve_accepts() -> None:
    (exec_start,) = _unit()["ExecStart"]
    program, command, *options = shlex.split(exec_start)
    assert program.endswith("/bin/modelyard")
    assert command == "serve"
    serve = typer.main.get_command(app).commands["serve"]  # type: ignore[attr-defined]
    parsed = serve.make_context("serve", list(options))  # raises on what serve does not take
    assert parsed.params["port"] == 4100  # the port the nginx site's upstreams name


def test_the_unit_is_hardened_and_outwaits_a_drain() -> None:
    unit = _unit()
    one = {key: values[-1] for key, values in unit.items()}
    assert one["User"] not in {"", "root", "0"}
    assert one["NoNewPrivileges"] == "yes"
    assert one["ProtectSystem"] == "strict"
    assert one["Restart"] == "on-failure"
    assert one["KillSignal"] == "SIGTERM"
    home = next(v.split("=", 1)[1] for v in unit["Environment"] if v.startswith("MODELYARD_HOME="))
    assert home in one["ReadWritePaths"].split()
    assert f"/var/lib/{one['StateDirectory']}" == home
    assert one["StateDirectoryMode"] == "0700"
    assert _seconds(one["TimeoutStopSec"]) > _drain_budget_s(_env_file())


def test_the_environment_file_is_valid_settings_with_no_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = _env_file()
    known = {f"MODELYARD_{name.upper()}" for name in Settings.model_fields}
    assert set(env) - known <= NOT_MODELYARD, set(env) - known - NOT_MODELYARD
    for key, value in env.items():
        monkeypatch.setenv(key, value)
        assert not SECRET_NAME.search(key) or key == "PGPASSFILE", key
    settings = Settings()
    assert settings.auto_migrate is False  # several replicas: the operator migrates, once
    assert settings.master_key is None
    assert make_url(settings.database_url).password is None
    assert settings.redis_url is not None
    assert "@" not in settings.redis_url


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "llm.example.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    crt, pem = tmp_path / "site.crt", tmp_path / "site.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return crt, pem


def test_the_nginx_site_passes_nginx_t(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    crt, pem = _self_signed(tmp_path)
    site = tmp_path / "site.conf"
    site.write_text(
        NGINX_SITE.read_text()
        .replace("/etc/nginx/tls/llm.example.com.crt", str(crt))
        .replace("/etc/nginx/tls/llm.example.com.key", str(pem))
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{ access_log off; include {site}; }}\n"
    )
    flags = ["-t", "-q", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)]
    done = subprocess.run(
        [nginx, *flags],
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_the_nginx_site_retries_only_unreached_replicas_and_streams_unbuffered() -> None:
    directives = [
        line.split("#")[0].strip().rstrip(";")
        for line in NGINX_SITE.read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    assert sum(d.startswith("server 10.") for d in directives) == 2
    assert "proxy_next_upstream error timeout" in directives  # no http_5xx, no non_idempotent
    assert "proxy_buffering off" in directives
    assert not any(d.startswith("keepalive") for d in directives)


def test_the_environment_file_reads_the_same_in_a_shell() -> None:
    """docs/deployment.md runs the CLI with `set -a; . modelyard.env`: same values as systemd."""
    script = f"set -a; . {shlex.quote(str(ENV_FILE))}; env -0"
    done = subprocess.run(["sh", "-c", script], check=True, capture_output=True, env={})
    shell = dict(item.split("=", 1) for item in done.stdout.decode().split("\0") if "=" in item)
    assert {key: shell.get(key) for key in _env_file()} == _env_file()
