"""The `[influx]` and `[mqtt]` sections of gateway.toml (both optional).

Example, InfluxDB 2.x / 3.x / VictoriaMetrics / InfluxDB 1.8+ through the v2 write API::

    [influx]
    url = "https://influx.county.example:8086"
    token = "..."
    org = "county-cdc"
    bucket = "coldchain"

Example, InfluxDB 1.x through the v1 /write endpoint::

    [influx]
    url = "http://10.0.0.5:8086"
    v1_db = "coldchain"
    v1_rp = "autogen"        # optional
    username = "gw10001"     # optional
    password = "..."

Example, MQTT over TLS with a client certificate::

    [mqtt]
    url = "mqtts://broker.county.example:8883"
    username = "gw10001"
    password = "..."
    ca_file = "/etc/coldchain/county-ca.pem"
    cert_file = "/etc/coldchain/gw10001.pem"
    key_file = "/etc/coldchain/gw10001.key"
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, FilePath, SecretStr, model_validator

from gateway.auth.policy import ACCOUNT_NAME


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class PumpSettings(_Model):
    """How a forwarder batches and retries; shared by the InfluxDB and MQTT sections."""

    batch_size: Annotated[int, Field(ge=1, le=50_000)] = 5000
    live_buffer: Annotated[
        int,
        Field(
            ge=1,
            le=100_000,
            description="newest readings kept in memory for the live lane; older ones are "
            "sent by the backlog lane from the store",
        ),
    ] = 5000
    retry_initial_s: Annotated[float, Field(gt=0, le=600)] = 1.0
    retry_max_s: Annotated[float, Field(gt=0, le=3600)] = 15.0

    auth_retry_s: Annotated[
        float, Field(gt=0, le=86_400, description="pace of retries after 401/403")
    ] = 120.0
    retry_after_max_s: Annotated[
        float, Field(gt=0, le=86_400, description="cap on a server's Retry-After")
    ] = 300.0
    idle_poll_s: Annotated[
        float, Field(gt=0, le=3600, description="how often an idle backlog lane looks again")
    ] = 5.0
    unsynced_hold_s: Annotated[
        float,
        Field(
            ge=0,
            le=7 * 86_400,
            description="how long readings stamped before the wall clock synchronised wait "
            "for their time to be corrected before they are sent flagged clock_synced=false",
        ),
    ] = 7200.0

    @model_validator(mode="after")
    def _retry_bounds(self) -> PumpSettings:
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError(
                f"retry_max_s ({self.retry_max_s}) is below retry_initial_s "
                f"({self.retry_initial_s}); fix: raise retry_max_s or lower retry_initial_s"
            )
        return self


def _check_url(url: str, schemes: tuple[str, ...], key: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(
            f"{key} {url!r} is not a {' or '.join(schemes)} URL with a host; fix: write it "
            f"like {schemes[0]}://host:port"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError(f"{key} {url!r} has an invalid port; fix: use 1-65535") from None


class InfluxSettings(PumpSettings):
    """Where and how readings are written to InfluxDB (or a server speaking its protocol).

    Set `bucket` for the v2 write API (InfluxDB 2.x, 3.x, 1.8+, VictoriaMetrics), or `v1_db`
    for the v1 /write endpoint of InfluxDB 1.x. Exactly one of them."""

    url: str
    token: SecretStr | None = None
    org: str | None = None
    bucket: Annotated[str, Field(min_length=1)] | None = None
    v1_db: Annotated[str, Field(min_length=1)] | None = None
    v1_rp: Annotated[str, Field(min_length=1)] | None = None
    username: Annotated[str, Field(min_length=1)] | None = None
    password: SecretStr | None = None
    measurement: Annotated[str, Field(min_length=1, pattern=r"^[^\s,\\]+$")] = "coldchain"
    gzip: bool = True
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    ca_file: FilePath | None = None
    verify_tls: bool = True

    @model_validator(mode="after")
    def _one_api(self) -> InfluxSettings:
        _check_url(self.url, ("http", "https"), "influx.url")
        if (self.bucket is None) == (self.v1_db is None):
            raise ValueError(
                "set exactly one of influx.bucket (v2 write API: InfluxDB 2.x/3.x/1.8+, "
                "VictoriaMetrics) and influx.v1_db (v1 /write: InfluxDB 1.x)"
            )
        if self.bucket is not None:
            extra = [
                key for key in ("v1_rp", "username", "password") if getattr(self, key) is not None
            ]
            if extra:
                raise ValueError(
                    f"influx.{', influx.'.join(extra)} only apply to the v1 API (influx.v1_db); "
                    'fix: remove them, or for InfluxDB 1.8\'s v2 API set token = "user:password"'
                )
        else:
            if self.token is not None or self.org is not None:
                raise ValueError(
                    "influx.token and influx.org apply to the v2 API (influx.bucket); fix: for "
                    "InfluxDB 1.x use influx.username and influx.password"
                )
            if (self.username is None) != (self.password is None):
                raise ValueError(
                    "influx.username and influx.password go together; fix: set both or neither"
                )
        return self

    @property
    def api(self) -> Literal["v1", "v2"]:
        return "v2" if self.bucket is not None else "v1"

    @property
    def target(self) -> str:
        """Where the points go; a change of target restarts the cursor (see cursor.py)."""
        if self.bucket is not None:
            return f"{self.url.rstrip('/')} bucket={self.bucket}"
        return f"{self.url.rstrip('/')} db={self.v1_db} rp={self.v1_rp or ''}"


class MqttSettings(PumpSettings):
    """The county broker: readings (batched JSON), alarms, status, commands."""

    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 500
    url: str
    username: Annotated[str, Field(min_length=1)] | None = None
    password: SecretStr | None = None
    ca_file: FilePath | None = None
    cert_file: FilePath | None = None
    key_file: FilePath | None = None
    client_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    topic_prefix: Annotated[str, Field(pattern=r"^[^+#\s]+$")] = "coldchain"
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 60
    publish_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    command_account: Annotated[
        Annotated[str, Field(pattern=ACCOUNT_NAME)] | None,
        Field(
            description="the account the county's commands act for, its rights checked "
            "(reload needs config_change, ack needs alarm_ack); none: they are refused",
        ),
    ] = None

    @model_validator(mode="after")
    def _tls_and_auth(self) -> MqttSettings:
        _check_url(self.url, ("mqtt", "mqtts"), "mqtt.url")
        tls_files = [k for k in ("ca_file", "cert_file", "key_file") if getattr(self, k)]
        if tls_files and not self.tls:
            raise ValueError(f"mqtt.{', mqtt.'.join(tls_files)} need TLS; fix: use an mqtts:// URL")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError(
                "mqtt.cert_file and mqtt.key_file go together (the client certificate and its "
                "private key); fix: set both or neither"
            )
        if self.password is not None and self.username is None:
            raise ValueError("mqtt.password is set without mqtt.username; fix: add username")
        return self

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or (8883 if self.tls else 1883)

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port} prefix={self.topic_prefix}"
