"""Configuration models of the barcode scanners (serial line or keyboard wedge) that feed the
ledger stations, and the one-user rule of the serial ports they share with loggers and
Modbus RTU buses. The root `gateway.settings.Settings` composes `Scanner` as the element of
its `scanners` list."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Annotated, Literal

from pydantic import Field, model_validator

from gateway.core.problems import Problem
from gateway.core.ranges import check_ordered
from probes.settings import CODE_PATTERN, FrozenModel, SerialProbe


class _ScannerCommon(FrozenModel):
    name: Annotated[str, Field(pattern=CODE_PATTERN)]
    station: Annotated[str, Field(min_length=1, description="where it sits, e.g. 'vaccination-1'")]
    max_line: Annotated[int, Field(ge=16, le=8192)] = 512
    rate_per_s: Annotated[float, Field(gt=0)] = 5.0
    burst: Annotated[int, Field(ge=1)] = 20
    backoff_initial_s: Annotated[float, Field(gt=0)] = 1.0
    backoff_max_s: Annotated[float, Field(gt=0)] = 30.0

    @model_validator(mode="after")
    def _backoff_ordered(self) -> _ScannerCommon:
        check_ordered(self, "backoff_initial_s", "backoff_max_s")
        return self


class SerialScanner(_ScannerCommon):
    """A serial or USB-CDC scanner in line mode (sends each code followed by CR, LF or CRLF)."""

    kind: Literal["serial"]
    port: Annotated[str, Field(min_length=1)]
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600


class HidScanner(_ScannerCommon):
    """A keyboard-wedge scanner read from its Linux input device, grabbed exclusively."""

    kind: Literal["hid"]
    device: Annotated[str, Field(min_length=1, description="/dev/input/by-id/usb-...-event-kbd")]
    gs_substitute: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=1,
            description="character the scanner types for GS (0x1D), if not Ctrl+]",
        ),
    ] = None


Scanner = Annotated[SerialScanner | HidScanner, Field(discriminator="kind")]


def check_serial_ports(
    serial_probes: Sequence[SerialProbe],
    scanners: Iterable[SerialScanner | HidScanner],
    rtu_ports: Iterable[str] = (),
) -> list[Problem]:
    """A serial port serves one thing: one logger (several probes may read its fields), one
    scanner, or one Modbus RTU bus. HID devices and scanner names are unique too."""
    problems: list[Problem] = []
    users: dict[str, list[str]] = defaultdict(list)
    for port in rtu_ports:
        users[port].append("a Modbus RTU bus")
    by_port: dict[str, list[SerialProbe]] = defaultdict(list)
    for probe in serial_probes:
        by_port[probe.port].append(probe)
    for port, probes in by_port.items():
        users[port].append(f"the serial logger of probes {', '.join(p.code for p in probes)}")
        first = probes[0]
        problems.extend(
            Problem(
                "probes",
                f"probes {first.code} and {other.code} read {port} with different "
                "baudrate or line format",
                "give every probe of one logger the same baudrate and format",
            )
            for other in probes[1:]
            if (other.baudrate, other.format) != (first.baudrate, first.format)
        )
    scanner_list = list(scanners)
    for scanner in scanner_list:
        if isinstance(scanner, SerialScanner):
            users[scanner.port].append(f"scanner {scanner.name}")
    problems += [
        Problem(
            "scanners",
            f"serial port {port} is used by {' and '.join(names)}",
            "give each device its own port (ls /dev/serial/by-id)",
        )
        for port, names in users.items()
        if len(names) > 1
    ]
    hid = Counter(s.device for s in scanner_list if isinstance(s, HidScanner))
    problems += [
        Problem(
            "scanners",
            f"input device {device} is used by {count} scanners",
            "declare each HID scanner once",
        )
        for device, count in hid.items()
        if count > 1
    ]
    names = Counter(s.name for s in scanner_list)
    problems += [
        Problem(
            "scanners",
            f"scanner name {name!r} is used {count} times",
            "give each scanner its own name",
        )
        for name, count in names.items()
        if count > 1
    ]
    return problems
