"""What each subsystem costs to import: resident memory and time, on top of the gateway's core.

Each subsystem is imported in a fresh interpreter after the core (`gateway.runtime` and
`gateway.cli`, what every `coldchain run` imports) and measured alone: the RSS it adds and the
seconds its import takes. The gateway imports a subsystem only when the configuration uses it
(and some only at their first use: see the notes). Medians of `--runs` interpreters.
The project's packages are byte-compiled first, as an installed gateway has them.
Run: `python -m bench.import_cost [--runs 3]`; `python -X importtime -m gateway ...` shows the
module-by-module detail.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from bench.modbus_poll import byte_compiled

CORE = ("gateway.runtime", "gateway.cli")

#: (subsystem, modules it imports, when the gateway imports it)
SUBSYSTEMS = (
    ("MQTT forwarder (aiomqtt, paho)", ("gateway.forward.mqtt",), "[mqtt] configured"),
    ("InfluxDB forwarder (aiohttp only)", ("gateway.forward.influx",), "[influx] configured"),
    ("alarms engine", ("gateway.alarms.engine",), "[alerts] configured"),
    (
        "twilio SMS and voice",
        ("twilio.rest", "twilio.http.async_http_client"),
        "the first SMS or call",
    ),
    ("ledgers", ("gateway.ledgers.book", "gateway.ledgers.upload"), "[ledger] configured"),
    ("xmlschema (upload validation)", ("xmlschema",), "the first upload validated"),
    ("biip (GS1 scans)", ("biip",), "the first GS1 scan"),
    ("zxcvbn (password strength)", ("zxcvbn",), "the first password chosen"),
    ("BLE (bleak)", ("bleak",), "a BLE bus configured"),
)

#: The core, layer by layer in one interpreter: what each layer adds to the one before.
LAYERS = (
    ("asyncio, ssl, sqlite3", ("asyncio", "ssl", "sqlite3")),
    (
        "pydantic (with its schema builder)",
        (
            "pydantic",
            "pydantic.main",
            "pydantic._internal._generate_schema",
            "pydantic.plugin._loader",
        ),
    ),
    ("aiohttp (client and web)", ("aiohttp", "aiohttp.web")),
    ("pymodbus client", ("pymodbus.client",)),
    ("APScheduler's cron trigger", ("apscheduler.triggers.cron",)),
    ("the settings' models", ("gateway.settings",)),
    ("the runtime and web app", ("gateway.runtime",)),
    ("the command line", ("gateway.cli",)),
)
#: The layers above that are libraries: what any gateway on them holds before its own code.
LIBRARY_LAYERS = 5

LAYERED = """
import importlib, json, time
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * {page} / 1e6
out = [rss()]
for modules in {layers!r}:
    for name in modules:
        importlib.import_module(name)
    out.append(rss())
print(json.dumps(out))
"""

PROBE = """
import importlib, json, sys, time
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * {page} / 1e6
started = time.perf_counter()
for name in {core!r}:
    importlib.import_module(name)
core_s = time.perf_counter() - started
base = rss()
started = time.perf_counter()
for name in {modules!r}:
    importlib.import_module(name)
print(json.dumps([base, rss() - base, time.perf_counter() - started, core_s]))
"""


def measure(modules: tuple[str, ...]) -> tuple[float, float, float, float]:
    import os

    code = PROBE.format(page=os.sysconf("SC_PAGE_SIZE"), core=CORE, modules=modules)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    base, added, seconds, core_s = json.loads(out.stdout)
    return base, added, seconds, core_s


def layers() -> list[float]:
    import os

    code = LAYERED.format(page=os.sysconf("SC_PAGE_SIZE"), layers=[m for _, m in LAYERS])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    sizes: list[float] = json.loads(out.stdout)
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    byte_compiled()
    core = [measure(()) for _ in range(args.runs)]
    print(
        f"core ({', '.join(CORE)}): {statistics.median(c[0] for c in core):.1f} MB resident,"
        f" {statistics.median(c[3] for c in core):.2f} s to import;"
        f" medians of {args.runs} interpreters"
    )
    sizes = [layers() for _ in range(args.runs)]
    print(f"{'the interpreter alone':36} {statistics.median(s[0] for s in sizes):8.1f}")
    for index, (name, _) in enumerate(LAYERS, 1):
        added = statistics.median(s[index] - s[index - 1] for s in sizes)
        print(f"{'+ ' + name:36} {added:8.1f}")
        if index == LIBRARY_LAYERS:
            floor = statistics.median(s[index] for s in sizes)
            print(f"{'= the libraries, before any of ours':36} {floor:8.1f}")
    print()
    header = f"{'subsystem':36} {'+RSS MB':>8} {'import s':>8}  imported when"
    print(header)
    print("-" * (len(header) + 20))
    for name, modules, when in SUBSYSTEMS:
        try:
            runs = [measure(modules) for _ in range(args.runs)]
        except subprocess.CalledProcessError as error:
            print(f"{name:36} {'-':>8} {'-':>8}  not importable: {error.stderr.splitlines()[-1]}")
            continue
        added = statistics.median(r[1] for r in runs)
        seconds = statistics.median(r[2] for r in runs)
        print(f"{name:36} {added:8.1f} {seconds:8.3f}  {when}")


if __name__ == "__main__":
    main()
