"""What a running gateway has imported: only what its configuration uses (memory on a Pi).

A subsystem the configuration does not use, or uses rarely, is imported at its first use; a
module-level import added on the way to `coldchain run` would silently cost its resident memory
on every gateway. Checked in a fresh interpreter, since pytest's own has imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e.support import CLINIC_HEADER

CONFIG = (
    CLINIC_HEADER
    + """
[[buses]]
name = "lan"
transport = "tcp"
host = "127.0.0.1"
port = 9

[[fridges]]
code = "F1"
name = "minimal"
kind = "refrigerator"

  [[fridges.compartments]]
  name = "冷藏"
  kind = "refrigerated"
"""
)

# Starts the gateway as `coldchain run` does (its parser included), prints the modules imported
# once it listens, and stops it.
LISTED_ONCE_LISTENING = """
import asyncio, json, sys
from pathlib import Path
from gateway.cli import build_parser, load_settings
from gateway.core.clock import SystemClock
from gateway.runtime import Gateway

async def main(path):
    gateway = Gateway(load_settings(path), SystemClock(), path)
    stop = asyncio.Event()
    running = asyncio.create_task(gateway.run(stop))
    await asyncio.wait([running, gateway.listening], return_when=asyncio.FIRST_COMPLETED)
    print(json.dumps(sorted(sys.modules)))
    stop.set()
    await running

args = build_parser().parse_args(["run", "--config", sys.argv[1]])
asyncio.run(main(args.config))
"""

#: Imported at their first use, never by a gateway that only polls, stores and serves its pages.
NOT_AT_START = (
    "twilio",  # the first SMS or call
    "xmlschema",  # the first upload validated
    "biip",  # the first GS1 scan
    "zxcvbn",  # the first password chosen
    "tomlkit",  # the first commissioning change written to the configuration
    "pymodbus.server",  # `coldchain sim` and the demo only
    "aiomqtt",  # [mqtt]
    "gateway.forward.influx",  # [influx]
    "gateway.alarms.engine",  # [alerts]
    "gateway.ledgers",  # [ledger]
    "ledger.vaccination_records",  # [ledger] (the log's masking needs only its types)
    "bleak",  # a BLE probe
)


def test_a_minimal_gateway_imports_no_subsystem_it_does_not_use(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(CONFIG.format(data_dir=tmp_path / "data"), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", LISTED_ONCE_LISTENING, str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(done.stdout.splitlines()[-1]))
    assert "gateway.web.app" in modules  # it did start
    imported = [
        name for name in NOT_AT_START if any(m == name or m.startswith(name + ".") for m in modules)
    ]
    assert imported == []
