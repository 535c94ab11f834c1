"""A gateway-shaped child process for the SIGKILL tests: store + recorder + forwarders.

python -m tests.forward.child_forwarder --db FILE --start N --count M
    [--influx-url URL (--bucket B | --v1-db D)] [--mqtt-url URL]
Produces readings N..N+M-1 through a Recorder (40 every 10 ms), forwards them (and any
backlog) and runs until killed. Prints "ready" once the forwarders are running.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from gateway.core.clock import SystemClock
from gateway.forward.influx import open_influx_forwarder
from gateway.forward.mqtt import MqttForwarder
from gateway.forward.settings import InfluxSettings, MqttSettings
from gateway.readings.recorder import Recorder
from gateway.settings import StoreSettings
from gateway.storage.readings import ReadingStore
from tests.forward.support import IDENTITY, readings

FAST = {"retry_initial_s": 0.05, "retry_max_s": 0.3, "idle_poll_s": 0.1}


async def main(args: argparse.Namespace) -> None:
    clock = SystemClock()
    with ReadingStore(Path(args.db)) as store:
        recorder = Recorder(store, clock, StoreSettings(flush_interval_s=0.05))
        async with asyncio.TaskGroup() as group:
            group.create_task(recorder.run())
            if args.influx_url:
                target = {"bucket": args.bucket} if args.bucket else {"v1_db": args.v1_db}
                settings = InfluxSettings.model_validate({"url": args.influx_url, **target, **FAST})
                influx = open_influx_forwarder(settings, IDENTITY, store, clock, recorder=recorder)
                pump = await influx.__aenter__()
                group.create_task(pump.run())
            if args.mqtt_url:
                mqtt = MqttSettings.model_validate({"url": args.mqtt_url, **FAST})
                forwarder = MqttForwarder(mqtt, IDENTITY, store, clock, recorder=recorder)
                group.create_task(forwarder.run())
            await asyncio.sleep(0.05)
            print("ready", flush=True)
            items = readings(args.start, args.count)
            for first in range(0, len(items), 40):
                for item in items[first : first + 40]:
                    await recorder.put(item)
                await asyncio.sleep(0.01)
            while recorder.stats().queue_depth or recorder.stats().pending:
                await asyncio.sleep(0.01)
            print("produced", flush=True)  # every reading is committed


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--influx-url")
    parser.add_argument("--bucket")
    parser.add_argument("--v1-db")
    parser.add_argument("--mqtt-url")
    asyncio.run(main(parser.parse_args()))
    sys.exit(0)
