"""Backup while a real gateway writes, restore bit-for-bit, and the refusals."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import io
import sqlite3
import stat
import sys
import tarfile
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pytest
import pytest_asyncio

from firmware_sim.modbus_devices import ModbusSimulator, channels_for_settings
from firmware_sim.modbus_server import TcpSimServer
from gateway.core.clock import SystemClock
from gateway.ops.backup import BackupError, backup, restore
from gateway.settings import load_settings
from gateway.storage.files import in_use
from gateway.storage.readings import ReadingStore
from gateway.storage.registry import READINGS, STORES, Store
from probes.reading import ProbeStatus, Reading
from tests.e2e.support import Clinic, GatewayProcess, clinic_toml

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def rows(path: Path, table: str = "readings") -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()


@pytest_asyncio.fixture
async def clinic(tmp_path: Path) -> AsyncIterator[Clinic]:
    data_dir = tmp_path / "data"
    config = tmp_path / "clinic.toml"
    config.write_text(clinic_toml(data_dir, 1, 0.2), encoding="utf-8")
    simulator = ModbusSimulator(channels_for_settings(load_settings(config)), SystemClock())
    async with TcpSimServer(simulator, "127.0.0.1", 0) as server:
        config.write_text(clinic_toml(data_dir, server.port, 0.2), encoding="utf-8")
        yield Clinic(config, data_dir)


async def readings_written(gateway: GatewayProcess) -> int:
    health = await gateway.get_json("/api/health")
    assert isinstance(health, dict)
    return int(health["store"]["readings_written"])


async def wait_for_readings(gateway: GatewayProcess, count: int) -> None:
    async with asyncio.timeout(20):
        while await readings_written(gateway) < count:
            await asyncio.sleep(0.05)


async def cli(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, output.decode()


@pytest.mark.asyncio
@pytest.mark.slow
async def test_backup_while_the_gateway_writes_restores_the_same_rows(
    clinic: Clinic, tmp_path: Path
) -> None:
    archive = tmp_path / "backup.tar.gz"
    gateway = await GatewayProcess.start(clinic.config)
    try:
        await wait_for_readings(gateway, 2 * clinic.probes)
        code, output = await cli("backup", "--config", str(clinic.config), "--output", str(archive))
        assert code == 0, output
        before = await readings_written(gateway)
        await wait_for_readings(gateway, before + clinic.probes)  # it kept writing
        refused, output = await cli(
            "restore",
            str(archive),
            "--config",
            str(clinic.config),
            "--data-dir",
            str(clinic.data_dir),
        )
        assert refused == 2
        assert "open by a running process" in output
    finally:
        assert await gateway.terminate(within_s=10) == 0
    # A replacement Pi: no configuration, an empty data folder.
    new_config = tmp_path / "new" / "gateway.toml"
    new_config.parent.mkdir()
    new_data = tmp_path / "new" / "data"
    done = restore(archive, new_config, data_dir=new_data)
    assert done.set_aside is None
    manifest = done.manifest
    assert (manifest.unit, manifest.gateway) == ("6101030203", "10001")
    backed_up = manifest.stores[[copy.name for copy in manifest.stores].index(READINGS.file)]
    assert new_config.read_bytes() == clinic.config.read_bytes()
    restored = rows(new_data / READINGS.file)
    assert len(restored) == backed_up.rows["readings"] > 2 * clinic.probes - 1
    last = restored[-1][0]
    original = [row for row in rows(clinic.data_dir / READINGS.file) if row[0] <= last]  # type: ignore[operator]
    assert restored == original
    assert len(rows(clinic.data_dir / READINGS.file)) > len(restored)

    # Back onto the first gateway (stopped now): same identity, so no --force needed.
    done = restore(archive, clinic.config)
    assert done.set_aside is not None
    assert (done.set_aside / READINGS.file).is_file()
    assert rows(clinic.data_dir / READINGS.file) == restored


def make_gateway(tmp_path: Path, number: str) -> Path:
    """A configuration and a small store for gateway `number`; returns the configuration."""
    folder = tmp_path / f"gw{number}"
    config = folder / "gateway.toml"
    config.parent.mkdir(parents=True)
    text = clinic_toml(folder / "data", 502, 60).replace('number = "10001"', f'number = "{number}"')
    config.write_text(text, encoding="utf-8")
    with ReadingStore(folder / "data" / READINGS.file) as store:
        store.write_batch(
            [Reading("P10", T0, ProbeStatus.OK, temperature=4.0 + i / 10) for i in range(50)]
        )
    return config


def test_a_backup_of_another_gateway_is_refused_unless_forced(tmp_path: Path) -> None:
    first = make_gateway(tmp_path, "10001")
    second = make_gateway(tmp_path, "10002")
    archive = tmp_path / "first.tar.gz"
    backup(first, archive)
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600  # the ledger holds personal data
    before = rows(second.parent / "data" / READINGS.file)
    with pytest.raises(BackupError, match=r"unit 6101030203 gateway 10001, but .* gateway 10002"):
        restore(archive, second, data_dir=second.parent / "data")
    assert rows(second.parent / "data" / READINGS.file) == before
    assert second.read_text(encoding="utf-8").count('number = "10002"') == 1
    restore(archive, second, data_dir=second.parent / "data", force=True)
    assert 'number = "10001"' in second.read_text(encoding="utf-8")


class FullDisk:
    """A file that takes `room` bytes and then fails as a full disk does."""

    def __init__(self, path: Path, room: int) -> None:
        self._file = path.open("xb")
        self._room = room

    def write(self, data: bytes) -> int:
        if len(data) > self._room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= len(data)
        return self._file.write(data)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def test_a_full_disk_fails_cleanly_and_removes_the_partial_archive(tmp_path: Path) -> None:
    config = make_gateway(tmp_path, "10001")
    out = tmp_path / "usb"
    out.mkdir()
    archive = out / "backup.tar.gz"

    def opener(path: Path) -> IO[bytes]:
        return FullDisk(path, 2000)  # type: ignore[return-value]

    with pytest.raises(BackupError) as caught:
        backup(config, archive, open_archive=opener)
    message = str(caught.value)
    assert f"no space left on the disk holding {out}" in message
    assert "partial archive was removed" in message
    assert "--output" in message
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("where", [0.25, 0.5, 0.75, 0.9, 0.99])
def test_a_damaged_archive_is_refused(tmp_path: Path, where: float) -> None:
    """A flipped byte anywhere (also after tar's end-of-archive marker, which tarfile never
    reads) is refused before anything is put in place."""
    config = make_gateway(tmp_path, "10001")
    archive = tmp_path / "backup.tar.gz"
    backup(config, archive)
    data = bytearray(archive.read_bytes())
    data[int(len(data) * where)] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(BackupError):
        restore(archive, tmp_path / "elsewhere.toml", data_dir=tmp_path / "elsewhere")
    assert not (tmp_path / "elsewhere" / READINGS.file).exists()


@pytest.mark.asyncio
async def test_store_in_use_sees_another_process(tmp_path: Path) -> None:
    path = tmp_path / "readings.sqlite3"
    ReadingStore(path).close()
    assert not in_use(path)
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
        " c.execute('SELECT count(*) FROM readings').fetchall(); print('open', flush=True);"
        " sys.stdin.read()",
        str(path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), 20) == b"open\n"
        assert in_use(path)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        await asyncio.wait_for(holder.wait(), 20)
    assert not in_use(path)


def with_every_store(tmp_path: Path) -> Path:
    """A gateway whose data folder holds every store of the registry, each opened (created)
    by its own class."""
    config = make_gateway(tmp_path, "10001")
    for store in STORES:
        with store.open(store.path(config.parent / "data")):
            pass
    return config


def test_a_backup_holds_every_registered_store_and_says_which_hold_personal_data(
    tmp_path: Path,
) -> None:
    config = with_every_store(tmp_path)
    manifest = backup(config, tmp_path / "all.tar.gz")
    assert {copy.name: copy.personal_data for copy in manifest.stores} == {
        store.file: store.personal_data for store in STORES
    }
    assert {copy.name: copy.schema_version for copy in manifest.stores} == {
        store.file: store.schema_version for store in STORES
    }


@pytest.mark.parametrize("store", STORES, ids=lambda store: store.name)
def test_a_backup_with_a_newer_schema_of_any_store_is_refused(tmp_path: Path, store: Store) -> None:
    config = with_every_store(tmp_path)
    with contextlib.closing(sqlite3.connect(store.path(config.parent / "data"))) as conn:
        conn.execute(f"PRAGMA user_version={store.schema_version + 1}")
    archive = tmp_path / "newer.tar.gz"
    backup(config, archive)
    target = tmp_path / "new" / "gateway.toml"
    with pytest.raises(BackupError, match=f"{store.file} has schema version .* newer than"):
        restore(archive, target, data_dir=tmp_path / "new" / "data")
    assert not (tmp_path / "new" / "data").exists()


def test_a_backup_holding_a_store_this_gateway_does_not_know_is_refused(tmp_path: Path) -> None:
    config = make_gateway(tmp_path, "10001")
    archive = tmp_path / "backup.tar.gz"
    manifest = backup(config, archive)
    ninth = replace(manifest.stores[0], name="ninth.sqlite3")
    crafted = replace(manifest, stores=[*manifest.stores, ninth])
    forged = tmp_path / "forged.tar.gz"
    with tarfile.open(archive, "r:gz") as source, tarfile.open(forged, "w:gz") as target:
        for member in source.getmembers():
            stream = source.extractfile(member)
            assert stream is not None
            data = crafted.to_json().encode() if member.name == "manifest.json" else stream.read()
            member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    with pytest.raises(BackupError, match=r"ninth\.sqlite3 is a store this gateway does not know"):
        restore(forged, tmp_path / "new" / "gateway.toml", data_dir=tmp_path / "new" / "data")
