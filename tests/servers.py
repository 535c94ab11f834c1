"""Real servers as child processes on free loopback ports, for tests and benchmarks.

Recipes verified on the test machines: influxd 1.x (v1 /write and InfluxQL /query),
VictoriaMetrics (InfluxDB v2 /api/v2/write; `-dedup.minScrapeInterval=1ms` so a duplicate
would show as... nothing: it is the strict "exactly once" check of the count; force_flush before
reading), mosquitto 2 (plain, password file, TLS; `user root` because it drops privileges before
reading its files). Each server can be stopped, killed and restarted on the same port and data
folder. Only the processes started here are ever signalled, by their PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEBIAN = {"influxd": "influxdb", "victoria-metrics": "victoria-metrics", "mosquitto": "mosquitto"}


def ensure_binary(name: str) -> str:
    """The path of a server binary, installing its Debian package when missing (as root)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found:
        return found
    package = DEBIAN[name]
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=300)
    subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, env=env, timeout=600)
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if not found:
        raise RuntimeError(f"{name} not found after installing {package}")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(
    method: str, url: str, data: bytes | None = None, timeout: float = 5.0
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@dataclass
class Server:
    """A child process with a readiness probe; stop/kill/start keep port and folder."""

    name: str
    argv: list[str]
    folder: Path
    port: int
    ready_url: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, timeout: float = 15.0) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        log = (self.folder / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}: {self.log()}"
                )
            if self._ready():
                return
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} not ready within {timeout} s: {self.log()}")

    def _ready(self) -> bool:
        if self.ready_url is None:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return True
            return False
        try:
            status, _ = http("GET", self.ready_url, timeout=0.5)
        except OSError:
            return False
        return status in (200, 204)

    def log(self) -> str:
        path = self.folder / f"{self.name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after 10 s)."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)

    def kill(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()


class VictoriaMetrics(Server):
    @classmethod
    def create(cls, folder: Path, *, dedup: bool = True) -> VictoriaMetrics:
        """`dedup=False` keeps a sample written twice twice: a count then shows duplicates."""
        binary = ensure_binary("victoria-metrics")
        folder.mkdir(parents=True, exist_ok=True)
        port = free_port()
        argv = [
            binary,
            f"-storageDataPath={folder / 'data'}",
            f"-httpListenAddr=127.0.0.1:{port}",
            "-retentionPeriod=100y",
            *(["-dedup.minScrapeInterval=1ms"] if dedup else []),
            # Tests backfill past timestamps and poll exports: a cached early (partial) answer
            # must not be served again, and fresh points are visible at once.
            "-search.disableCache",
            "-search.latencyOffset=0s",
            "-loggerLevel=ERROR",
        ]
        return cls("victoria-metrics", argv, folder, port, f"http://127.0.0.1:{port}/health")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def export(self, match: str) -> list[dict[str, Any]]:
        """Raw samples of the matching series (after a force flush)."""
        http("GET", f"{self.url}/internal/force_flush")
        query = urllib.parse.urlencode({"match[]": match})
        status, body = http("GET", f"{self.url}/api/v1/export?{query}", timeout=30)
        assert status == 200, body
        return [json.loads(line) for line in body.splitlines() if line.strip()]

    def samples(
        self, metric: str, at_least: int = 0, within_s: float = 20.0
    ) -> list[tuple[dict[str, str], int, float]]:
        """(labels, timestamp ms, value) of every stored sample of `metric`.

        With `at_least`, asks again until that many are searchable or `within_s` passes:
        series created moments ago can take a while to show in VictoriaMetrics' index under
        load, even after a force flush. The caller still checks the exact count.
        """
        deadline = time.monotonic() + within_s
        while True:
            out = []
            for series in self.export(f'{{__name__="{metric}"}}'):
                labels = series["metric"]
                for ts, value in zip(series["timestamps"], series["values"], strict=True):
                    out.append((labels, ts, value))
            if len(out) >= at_least or time.monotonic() > deadline:
                return out
            time.sleep(0.2)


class Influxd(Server):
    @classmethod
    def create(cls, folder: Path) -> Influxd:
        binary = ensure_binary("influxd")
        folder.mkdir(parents=True, exist_ok=True)
        port, bind = free_port(), free_port()
        config = folder / "influxd.conf"
        config.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{bind}"
[meta]
  dir = "{folder / "meta"}"
[data]
  dir = "{folder / "data"}"
  wal-dir = "{folder / "wal"}"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{port}"
  log-enabled = false
[logging]
  level = "error"
""",
            encoding="utf-8",
        )
        return cls(
            "influxd",
            [binary, "-config", str(config)],
            folder,
            port,
            f"http://127.0.0.1:{port}/ping",
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def query(self, q: str, db: str | None = None) -> dict[str, Any]:
        params = {"q": q, "epoch": "ms"}
        if db:
            params["db"] = db
        status, body = http(
            "POST", f"{self.url}/query?{urllib.parse.urlencode(params)}", timeout=30
        )
        assert status == 200, body
        return json.loads(body)  # type: ignore[no-any-return]

    def create_db(self, db: str) -> None:
        self.query(f'CREATE DATABASE "{db}"')

    def rows(self, db: str, q: str) -> list[dict[str, Any]]:
        """Every row of a SELECT as dicts (tags included), across series."""
        result = self.query(q, db)["results"][0]
        out = []
        for series in result.get("series", []):
            tags = series.get("tags", {})
            columns = series["columns"]
            out += [tags | dict(zip(columns, values, strict=True)) for values in series["values"]]
        return out


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_tls(folder: Path) -> TlsFiles:
    """A CA, a server certificate for localhost/127.0.0.1, a client certificate, another CA."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o755)

    def ca(name: str) -> tuple[Path, Path]:
        key, cert = folder / f"{name}.key", folder / f"{name}.pem"
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        )
        return cert, key

    def signed(name: str, ca_cert: Path, ca_key: Path, ext: str | None) -> tuple[Path, Path]:
        key, csr, cert = folder / f"{name}.key", folder / f"{name}.csr", folder / f"{name}.pem"
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={name}",
            "-keyout",
            str(key),
            "-out",
            str(csr),
        )
        args = [
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(ca_cert),
            "-CAkey",
            str(ca_key),
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            str(cert),
        ]
        if ext:
            extfile = folder / f"{name}.ext"
            extfile.write_text(ext, encoding="utf-8")
            args += ["-extfile", str(extfile)]
        _openssl(*args)
        return cert, key

    ca_cert, ca_key = ca("test-ca")
    other_ca, _ = ca("other-ca")
    server_cert, server_key = signed(
        "server", ca_cert, ca_key, "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
    )
    client_cert, client_key = signed("client", ca_cert, ca_key, None)
    for path in folder.iterdir():
        os.chmod(path, 0o644)
    return TlsFiles(ca_cert, server_cert, server_key, client_cert, client_key, other_ca)


class Mosquitto(Server):
    @classmethod
    def create(
        cls,
        folder: Path,
        *,
        users: dict[str, str] | None = None,
        tls: TlsFiles | None = None,
        require_client_cert: bool = False,
        persistence: bool = False,
        extra: str = "",
    ) -> Mosquitto:
        binary = ensure_binary("mosquitto")
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o755)
        port = free_port()
        lines = [
            "user root",
            f"persistence {'true' if persistence else 'false'}",
            f"persistence_location {folder}/",
            "log_dest stderr",
            "log_type error",
            f"listener {port} 127.0.0.1",
        ]
        if users:
            passwd = folder / "passwd"
            passwd.unlink(missing_ok=True)
            for user, password in users.items():
                flag = ["-c"] if not passwd.exists() else []
                subprocess.run(
                    ["mosquitto_passwd", *flag, "-b", str(passwd), user, password],
                    check=True,
                    capture_output=True,
                    timeout=30,
                )
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        else:
            lines.append("allow_anonymous true")
        if tls:
            lines += [
                f"cafile {tls.ca}",
                f"certfile {tls.server_cert}",
                f"keyfile {tls.server_key}",
            ]
            if require_client_cert:
                lines.append("require_certificate true")
        config = folder / "mosquitto.conf"
        config.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
        return cls("mosquitto", [binary, "-c", str(config)], folder, port, None)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


class Subscriber:
    """A real MQTT subscriber that keeps every message, reconnecting while the broker restarts.

    A persistent session (fixed id, clean_session=False, QoS 1) on a broker with persistence
    keeps the messages published while this subscriber was away."""

    def __init__(self, broker: Mosquitto, topic: str, **client_args: Any) -> None:
        self.broker = broker
        self.topic = topic
        self.client_args = client_args
        self.messages: list[tuple[str, bytes, bool]] = []
        self.connected = 0
        self._task: Any = None

    async def __aenter__(self) -> Subscriber:
        import asyncio

        self._task = asyncio.create_task(self._run())
        deadline = time.monotonic() + 10
        while not self.connected:
            if time.monotonic() > deadline:
                raise RuntimeError("subscriber could not connect")
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        import asyncio

        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        import asyncio

        import aiomqtt

        while True:
            try:
                async with aiomqtt.Client(
                    "127.0.0.1",
                    self.broker.port,
                    identifier=f"test-sub-{id(self)}",
                    clean_session=False,
                    **self.client_args,
                ) as client:
                    await client.subscribe(self.topic, qos=1)
                    self.connected += 1
                    async for message in client.messages:
                        payload = message.payload
                        assert isinstance(payload, bytes)
                        self.messages.append((str(message.topic), payload, message.retain))
            except aiomqtt.MqttError:
                # Python 3.11's wait_for (inside aiomqtt) can swallow our cancellation.
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from None
                await asyncio.sleep(0.05)

    def payloads(self, suffix: str) -> list[Any]:
        return [json.loads(p) for t, p, _ in self.messages if t.endswith(suffix)]
