"""[influx] and [mqtt] validation: each mistake names the key and the fix."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.forward.settings import InfluxSettings, MqttSettings


def problem(model: type[InfluxSettings | MqttSettings], data: Mapping[str, object]) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return str(caught.value)


def test_influx_needs_exactly_one_api() -> None:
    assert "exactly one of influx.bucket" in problem(InfluxSettings, {"url": "http://h:8086"})
    both = {"url": "http://h:8086", "bucket": "b", "v1_db": "d"}
    assert "exactly one of influx.bucket" in problem(InfluxSettings, both)


def test_influx_keys_of_the_other_api_are_refused_with_a_fix() -> None:
    text = problem(InfluxSettings, {"url": "http://h", "bucket": "b", "username": "u"})
    assert "influx.username" in text
    assert 'token = "user:password"' in text
    text = problem(InfluxSettings, {"url": "http://h", "v1_db": "d", "token": "t"})
    assert "influx.username and influx.password" in text
    text = problem(InfluxSettings, {"url": "http://h", "v1_db": "d", "username": "u"})
    assert "go together" in text


def test_influx_url_and_bounds() -> None:
    assert "is not a http or https URL" in problem(InfluxSettings, {"url": "h:8086", "bucket": "b"})
    data = {"url": "http://h", "bucket": "b", "retry_initial_s": 10, "retry_max_s": 1}
    assert "retry_max_s" in problem(InfluxSettings, data)
    ok = InfluxSettings.model_validate({"url": "http://h:8086/", "v1_db": "cc", "v1_rp": "a"})
    assert ok.api == "v1"
    assert ok.batch_size == 5000
    assert ok.gzip
    assert ok.target == "http://h:8086 db=cc rp=a"


def test_mqtt_tls_files_need_mqtts_and_pairs(tmp_path: Path) -> None:
    cert = tmp_path / "c.pem"
    cert.write_text("x", encoding="utf-8")
    text = problem(MqttSettings, {"url": "mqtt://h", "ca_file": str(cert)})
    assert "need TLS; fix: use an mqtts:// URL" in text
    text = problem(MqttSettings, {"url": "mqtts://h", "cert_file": str(cert)})
    assert "cert_file and mqtt.key_file go together" in text
    assert "does not point to a file" in problem(
        MqttSettings, {"url": "mqtts://h", "ca_file": "/nope"}
    )
    assert "mqtt.password is set without" in problem(
        MqttSettings, {"url": "mqtt://h", "password": "p"}
    )
    assert "pattern" in problem(MqttSettings, {"url": "mqtt://h", "topic_prefix": "a/#"})
    ok = MqttSettings.model_validate({"url": "mqtts://broker"})
    assert (ok.host, ok.port, ok.tls, ok.batch_size) == ("broker", 8883, True, 500)
