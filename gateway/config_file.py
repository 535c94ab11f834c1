"""The configuration file as commissioning changes it: versioned, edited with its comments kept,
replaced atomically, its previous versions kept beside it.

A version is the SHA-256 of the file's bytes. A technician's form carries the version it was
filled against; a write against any other version is refused (`StaleConfigError`), so two
technicians binding at once cannot overwrite each other. The new text goes to a temporary file
in the same folder, is flushed to the card, and renamed over the old one; the old one is kept as
`NAME.1` (and the older ones as `NAME.2` .. `NAME.N`), so a bad change can be put back by hand.
Edits go through tomlkit, which keeps the file's comments and layout; it is imported by the
first edit, not with this module (0.8 MB resident, and most gateways are never commissioned
from their pages after installation).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.core.errors import ConfigError

if TYPE_CHECKING:
    from tomlkit.items import AoT
    from tomlkit.toml_document import TOMLDocument

# Previous versions kept beside the file (NAME.1 is the newest of them).
KEEP_VERSIONS = 5


class StaleConfigError(ConfigError):
    """The file changed since the form was filled in (another technician, or a hand edit)."""


@dataclass(frozen=True, slots=True)
class ConfigSnapshot:
    """The file's text at one moment and its version."""

    path: Path
    text: str
    version: str

    def document(self) -> TOMLDocument:
        import tomlkit
        from tomlkit.exceptions import TOMLKitError

        try:
            return tomlkit.parse(self.text)
        except TOMLKitError as error:
            raise ConfigError(
                f"{self.path}: not valid TOML: {error} (fix: correct the syntax)"
            ) from None


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_config(path: Path) -> ConfigSnapshot:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the configuration ({error.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; fix: save the file as UTF-8") from None
    return ConfigSnapshot(path, text, version_of(data))


def previous_version(path: Path, index: int) -> Path:
    """Where the `index`-th previous version is kept (1 = the one before the current)."""
    return path.with_name(f"{path.name}.{index}")


def check_version(current: ConfigSnapshot, expected_version: str) -> None:
    if current.version != expected_version:
        raise StaleConfigError(
            f"{current.path} changed since the form was opened (version {expected_version[:12]}"
            f" expected, the file is at {current.version[:12]}): someone else changed the "
            "configuration; fix: reload the page and fill in the form again"
        )


def replace_config(
    path: Path, text: str, expected_version: str, keep: int = KEEP_VERSIONS
) -> ConfigSnapshot:
    """Write `text` as the new configuration if the file is still at `expected_version`.

    Synchronous on purpose: with no await between the version check and the rename, two
    requests in the gateway's event loop cannot interleave here.
    """
    check_version(read_config(path), expected_version)
    data = text.encode("utf-8")
    folder = path.parent
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".new", dir=folder)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, stat.S_IMODE(path.stat().st_mode))
        _shift_previous(path, keep)
        os.replace(temporary, path)
        _sync_folder(folder)
    except OSError as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise ConfigError(
            f"{path}: cannot write the new configuration ({error.strerror}); the running "
            "configuration is unchanged; fix: make the folder writable and free space on the card"
        ) from None
    return ConfigSnapshot(path, text, version_of(data))


def _shift_previous(path: Path, keep: int) -> None:
    """NAME.(keep-1) -> NAME.keep ... NAME.1 -> NAME.2, then NAME is linked as NAME.1."""
    for index in range(keep - 1, 0, -1):
        older = previous_version(path, index)
        if older.exists():
            os.replace(older, previous_version(path, index + 1))
    newest = previous_version(path, 1)
    with contextlib.suppress(FileNotFoundError):
        newest.unlink()
    os.link(path, newest)


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# -- edits of the parsed document -------------------------------------------------------------


def probe_tables(document: TOMLDocument) -> AoT:
    """The `[[probes]]` array of tables, created at the end of the file when there is none."""
    import tomlkit
    from tomlkit.items import AoT

    if "probes" not in document:
        document.append("probes", tomlkit.aot())
    probes = document["probes"]
    if not isinstance(probes, AoT):
        raise ConfigError("probes must be written as [[probes]] tables to be edited here")
    return probes


def probe_index(document: TOMLDocument, code: str) -> int:
    for index, table in enumerate(probe_tables(document)):
        if table.get("code") == code:
            return index
    raise KeyError(code)


def add_probe(document: TOMLDocument, fields: dict[str, Any]) -> None:
    import tomlkit

    table = tomlkit.table()
    for key, value in fields.items():
        table.add(key, value)
    probe_tables(document).append(table)


def remove_probe(document: TOMLDocument, code: str) -> None:
    del probe_tables(document)[probe_index(document, code)]


def set_probe_field(document: TOMLDocument, code: str, key: str, value: Any) -> None:
    probe_tables(document)[probe_index(document, code)][key] = value


def set_probe_count(document: TOMLDocument, fridge: str, compartment: str, probes: int) -> None:
    """`probes = N` on compartment `compartment` of fridge `fridge` (its code)."""
    from tomlkit.items import AoT, Table

    fridges = document.get("fridges")
    for table in fridges if isinstance(fridges, AoT) else []:
        if not (isinstance(table, Table) and table.get("code") == fridge):
            continue
        compartments = table.get("compartments")
        for entry in compartments if isinstance(compartments, AoT) else []:
            if isinstance(entry, Table) and entry.get("name") == compartment:
                entry["probes"] = probes
                return
    raise KeyError(f"{fridge}/{compartment}")


def rename_fridge(document: TOMLDocument, code: str, name: str) -> None:
    from tomlkit.items import AoT, Table

    fridges = document.get("fridges")
    for table in fridges if isinstance(fridges, AoT) else []:
        if isinstance(table, Table) and table.get("code") == code:
            table["name"] = name
            return
    raise KeyError(code)
