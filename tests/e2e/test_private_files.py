"""A real gateway started with an open umask (0000) keeps its data private: every folder it
creates is 0750 and every file 0640 at most, stores, WAL files and all."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.e2e.support import CLINIC_HEADER, GatewayProcess

pytestmark = pytest.mark.asyncio


def open_umask() -> None:
    os.umask(0)


async def test_the_data_folder_is_private_whatever_the_umask(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = tmp_path / "gateway.toml"
    config.write_text(CLINIC_HEADER.format(data_dir=data), encoding="utf-8")
    gateway = await GatewayProcess.start(config, preexec=open_umask)
    try:
        assert isinstance(await gateway.get_json("/api/health"), dict)
        found = [data, *data.rglob("*")]
        assert len(found) >= 5, found
        for path in found:
            mode = stat.S_IMODE(path.stat().st_mode)
            allowed = 0o750 if path.is_dir() else 0o640
            assert mode & ~allowed == 0, f"{path}: {mode:o}"
    finally:
        await gateway.kill()
