"""`coldchain backup` / `coldchain restore`: the stores and the configuration in one archive.

A backup is taken while the gateway runs: each store of the registry (`gateway.storage.registry`)
present in the data folder is copied
through SQLite's online backup API (one step, so each copy is one consistent snapshot while the
gateway keeps writing), checked, and put with the configuration and a manifest (identity,
schema versions, row counts, sha256 of every file) into a tar.gz.

A restore checks the manifest and every file's hash, refuses a backup of another gateway
(unit code or gateway number differ) unless forced, refuses while a process has a store open,
moves the files it replaces aside, and checks the restored files against the manifest.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from gateway.core.errors import GatewayError
from gateway.settings import Settings, load_settings
from gateway.storage.files import copy_live, in_use, inspect
from gateway.storage.registry import STORES, SUFFIX, by_file

MANIFEST = "manifest.json"
FORMAT = 1
_MEMBER = re.compile(r"^(data/[A-Za-z0-9_.-]+\.sqlite3|config/[A-Za-z0-9_.-]+)$")

ArchiveOpener = Callable[[Path], IO[bytes]]


class BackupError(GatewayError):
    """A backup or restore could not be made; the message names the file and the fix."""


@dataclass(frozen=True, slots=True)
class StoreCopy:
    name: str
    schema_version: int
    rows: dict[str, int]
    sha256: str
    size: int
    personal_data: bool = False


@dataclass(frozen=True, slots=True)
class Manifest:
    unit: str
    gateway: str
    created_at: str
    config_name: str
    config_sha256: str
    stores: list[StoreCopy] = field(default_factory=list)
    format: int = FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str) -> Manifest:
        try:
            data: dict[str, Any] = json.loads(text)
            if data.get("format") != FORMAT:
                raise BackupError(
                    f"{source}: backup format {data.get('format')!r} is not {FORMAT}; fix: "
                    "restore it with the gateway version that made it"
                )
            stores = [StoreCopy(**store) for store in data.pop("stores")]
            return cls(stores=stores, **data)
        except (ValueError, TypeError, KeyError) as error:
            raise BackupError(
                f"{source}: the manifest is unreadable ({error}); fix: use an"
                " archive made by coldchain backup"
            ) from None


def known_schema_versions() -> dict[str, int]:
    """The schema version this code writes, by store file name."""
    return {store.file: store.schema_version for store in STORES}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def describe_store(path: Path) -> tuple[int, dict[str, int]]:
    """Schema version and row count of every table; raises BackupError unless integrity is ok."""
    report = inspect(path)
    if report.problems:
        raise BackupError(
            f"{path}: integrity check failed ({'; '.join(report.problems[:3])}); fix: take the"
            " backup again, or salvage the store with sqlite3 FILE '.recover'"
        )
    return report.schema_version, report.rows


def snapshot_store(source: Path, target: Path) -> StoreCopy:
    """One consistent copy of a live store (SQLite backup API, all pages in one step)."""
    copy_live(source, target)
    version, rows = describe_store(target)
    store = by_file(source.name)
    return StoreCopy(
        source.name,
        version,
        rows,
        sha256_of(target),
        target.stat().st_size,
        personal_data=store is not None and store.personal_data,
    )


def present_stores(folder: Path) -> list[Path]:
    """The files of the registry's stores that exist in `folder`."""
    return [path for store in STORES if (path := store.path(folder)).is_file()]


def _open_new(path: Path) -> IO[bytes]:
    """A new file only its owner can read: the ledger holds personal data."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def backup(
    config: Path,
    output: Path,
    *,
    data_dir: Path | None = None,
    now: datetime | None = None,
    open_archive: ArchiveOpener = _open_new,
) -> Manifest:
    """Write the archive `output` (refusing to overwrite one); a failure removes it whole."""
    settings = load_settings(config)
    folder = data_dir or settings.gateway.data_dir
    stores = present_stores(folder)
    if not stores:
        raise BackupError(
            f"{folder}: no store (*{SUFFIX}) to back up; fix: name the gateway's data"
            " folder with --data-dir or check [gateway] data_dir"
        )
    if output.exists():
        raise BackupError(f"{output}: exists already; fix: choose a new name with --output")
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=output.parent, prefix=".coldchain-backup-") as tmp:
            staging = Path(tmp)
            copies = [snapshot_store(store, staging / store.name) for store in stores]
            manifest = Manifest(
                unit=settings.unit.code,
                gateway=settings.gateway.number,
                created_at=(now or datetime.now(UTC)).isoformat(),
                config_name=config.name,
                config_sha256=sha256_of(config),
                stores=copies,
            )
            with open_archive(output) as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
                _add_bytes(archive, MANIFEST, manifest.to_json().encode())
                archive.add(config, f"config/{config.name}", recursive=False)
                for copy in copies:
                    archive.add(staging / copy.name, f"data/{copy.name}", recursive=False)
    except BaseException as failure:
        with contextlib.suppress(FileNotFoundError):
            output.unlink()
        if _disk_full(failure):
            raise BackupError(_no_space(output)) from None
        if isinstance(failure, OSError):
            raise BackupError(
                f"{output}: cannot write the backup ({failure.strerror}); the partial archive"
                " was removed; fix: check that the folder is writable"
            ) from None
        raise
    return manifest


def _disk_full(failure: BaseException) -> bool:
    return isinstance(failure, OSError) and failure.errno == errno.ENOSPC


def _no_space(output: Path) -> str:
    try:
        free = f"{shutil.disk_usage(output.parent).free // 1_000_000} MB free"
    except OSError:
        free = "free space unknown"
    return (
        f"{output}: no space left on the disk holding {output.parent} ({free}); the partial"
        " archive was removed; fix: free space on that disk or write the backup to another one"
        " (a USB stick) with --output"
    )


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o640
    archive.addfile(info, io.BytesIO(data))


@dataclass(frozen=True, slots=True)
class Restored:
    manifest: Manifest
    data_dir: Path
    config: Path
    set_aside: Path | None


def restore(
    archive: Path,
    config: Path,
    *,
    data_dir: Path | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> Restored:
    """Put the archive's stores into the data folder and its configuration at `config`."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    config.parent.mkdir(parents=True, exist_ok=True)
    with _open_archive(archive) as tar:
        manifest = _manifest_of(tar, archive)
        if config.exists() and not force:
            _check_identity(manifest, load_settings(config), archive, config)
        _check_versions(manifest, archive)
        with tempfile.TemporaryDirectory(dir=config.parent, prefix=".coldchain-restore-") as tmp:
            staging = Path(tmp)
            staged_config = staging / "config" / config.name
            _extract(tar, f"config/{manifest.config_name}", staged_config, manifest.config_sha256)
            folder = data_dir or load_settings(staged_config).gateway.data_dir
            folder.mkdir(parents=True, exist_ok=True)
            _refuse_if_running(folder)
            with tempfile.TemporaryDirectory(dir=folder, prefix=".coldchain-restore-") as inner:
                incoming = Path(inner)
                for copy in manifest.stores:
                    _extract(tar, f"data/{copy.name}", incoming / copy.name, copy.sha256)
                    describe_store(incoming / copy.name)
                set_aside = _set_aside(folder, config, stamp)
                for copy in manifest.stores:
                    _own_like(incoming / copy.name, folder)
                    (incoming / copy.name).replace(folder / copy.name)
            staged_config.chmod(0o640)
            _own_like(staged_config, config if config.exists() else config.parent)
            staged_config.replace(config)
    _verify(manifest, folder)
    return Restored(manifest, folder, config, set_aside)


@contextlib.contextmanager
def _open_archive(archive: Path) -> Iterator[tarfile.TarFile]:
    try:
        _read_whole(archive)
        with tarfile.open(archive, "r:gz") as tar:
            yield tar
    except (OSError, EOFError, zlib.error, tarfile.TarError) as error:
        raise BackupError(
            f"{archive}: cannot read the backup ({error}); fix: give an archive made by"
            " coldchain backup, copied whole"
        ) from None


def _read_whole(archive: Path) -> None:
    """Read the compressed stream to its end, which checks its length and CRC: tarfile stops
    at the end-of-archive marker, so damage after it (or in a member never read) would pass."""
    with gzip.open(archive) as stream:
        while stream.read(1 << 20):
            pass


def _manifest_of(tar: tarfile.TarFile, archive: Path) -> Manifest:
    try:
        stream = tar.extractfile(MANIFEST)
    except KeyError:
        stream = None
    if stream is None:
        raise BackupError(f"{archive}: no {MANIFEST}; fix: use an archive made by coldchain backup")
    return Manifest.from_json(stream.read().decode(), str(archive))


def _check_identity(manifest: Manifest, current: Settings, archive: Path, config: Path) -> None:
    here = (current.unit.code, current.gateway.number)
    if (manifest.unit, manifest.gateway) != here:
        raise BackupError(
            f"{archive}: backup of unit {manifest.unit} gateway {manifest.gateway}, but {config}"
            f" is unit {here[0]} gateway {here[1]}; refused so that one gateway's records are"
            " not mixed into another's; fix: restore the right backup, or pass --force to"
            " replace this gateway's identity and data with the backup's"
        )


def _check_versions(manifest: Manifest, archive: Path) -> None:
    known = known_schema_versions()
    for copy in manifest.stores:
        if copy.name not in known:
            raise BackupError(
                f"{archive}: {copy.name} is a store this gateway does not know (the backup was"
                " made by a newer version); fix: upgrade the gateway software first"
            )
        if copy.schema_version > known[copy.name]:
            raise BackupError(
                f"{archive}: {copy.name} has schema version {copy.schema_version}, newer than"
                f" this gateway's {known[copy.name]}; fix: upgrade the gateway software first"
            )


def _refuse_if_running(folder: Path) -> None:
    busy = [path.name for path in present_stores(folder) if in_use(path)]
    if busy:
        raise BackupError(
            f"{folder}: {', '.join(busy)} open by a running process (the gateway); fix: stop"
            " it first (sudo systemctl stop coldchain), restore, then start it again"
        )


def _extract(tar: tarfile.TarFile, name: str, target: Path, sha256: str) -> None:
    if not _MEMBER.match(name):
        raise BackupError(f"archive member {name!r} is not a coldchain file; refused")
    try:
        stream = tar.extractfile(name)
    except KeyError:
        stream = None
    if stream is None:
        raise BackupError(f"the archive lacks {name}; fix: take the backup again")
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with target.open("wb") as out:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != sha256:
        raise BackupError(
            f"{name}: sha256 differs from the manifest (damaged copy); fix: restore from"
            " another copy of the backup"
        )


def _own_like(path: Path, reference: Path) -> None:
    """Run as root (sudo), give a restored file the owner of what it replaces, so that the
    service's user can open it."""
    if os.geteuid() == 0:
        info = reference.stat()
        os.chown(path, info.st_uid, info.st_gid)


def _set_aside(folder: Path, config: Path, stamp: str) -> Path | None:
    """Move the files a restore replaces into `replaced-<time>/` (never deleted here)."""
    current = [
        path
        for store in present_stores(folder)
        for path in (store, *(store.with_name(store.name + end) for end in ("-wal", "-shm")))
        if path.exists()
    ]
    if not current and not config.exists():
        return None
    aside = folder / f"replaced-{stamp}"
    aside.mkdir()
    for path in current:
        path.replace(aside / path.name)
    if config.exists():
        shutil.copy2(config, aside / config.name)
    return aside


def _verify(manifest: Manifest, folder: Path) -> None:
    for copy in manifest.stores:
        path = folder / copy.name
        if sha256_of(path) != copy.sha256:
            raise BackupError(f"{path}: differs from the backup after restore; fix: restore again")
        version, rows = describe_store(path)
        if (version, rows) != (copy.schema_version, copy.rows):
            raise BackupError(
                f"{path}: restored rows or schema differ from the manifest; fix: restore again"
            )
