"""zxing-wasm from npm, vendored: the decoder the pages load when the camera scans.

The files below are committed under `gateway/web/ui/static/vendor/zxing-wasm-<version>/`, byte
for byte as npm ships them (the package's own LICENSE and package.json record licence and
version). `python -m tests.ui.zxing` (`make zxing`) installs the pinned version with npm into a
temporary folder, checks every file against its SHA-256 here and copies them in; the tests check
the committed copies against the same hashes. To move to a new version, change VERSION, run it
once with `--trust` (it prints the new hashes instead of refusing them), paste them here and
point CAMERA_DECODER in `static/js/camera.js` at the new folder.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from gateway.web.ui import STATIC

PACKAGE = "zxing-wasm"
VERSION = "3.1.8"
# Path in the npm package -> SHA-256: the reader's ES module, its shared part and WebAssembly.
FILES = {
    "LICENSE": "fb506e4ade12d7a9efa67c9d76a9a28c8e15d347ca49a69e48e29b40b34ad2ab",
    "package.json": "b0d10db94281deda053f0800c6759dd63da62f6f72b33c88707aa53770d58ca6",
    "dist/es/reader/index.js": "3f295856339fca364d8077b6b86ac0b08db2301b786b227129890ca85aac0c46",
    "dist/es/share.js": "67e75d4751c55d52a4ff1f2a16719cbadd0e19dc6c076089e238702c6fa6bb62",
    "dist/reader/zxing_reader.wasm": (
        "8451d7fe72f3d8e9ced56c7b6805e8bab88a0c218bfcd25c47c0a999e8188f3d"
    ),
}
VENDOR = STATIC / "vendor" / f"{PACKAGE}-{VERSION}"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mismatches(folder: Path) -> list[str]:
    """Each pinned file missing from `folder` or differing from its hash, named."""
    wrong = []
    for name, digest in FILES.items():
        path = folder / name
        if not path.is_file():
            wrong.append(f"{name}: missing")
        elif sha256(path) != digest:
            wrong.append(f"{name}: sha256 {sha256(path)}, pinned {digest}")
    return wrong


def fetch(*, trust: bool = False) -> None:
    """Install the pinned package with npm, check it, copy its files into VENDOR."""
    npm = shutil.which("npm")
    assert npm is not None, "npm is not installed; fix: apt-get install npm (make zxing does)"
    with tempfile.TemporaryDirectory() as temp:
        subprocess.run(
            [npm, "install", "--prefix", temp, "--no-save", "--no-audit", "--no-fund",
             "--ignore-scripts", f"{PACKAGE}@{VERSION}"],
            check=True,
            capture_output=True,
            timeout=300,
        )  # fmt: skip
        installed = Path(temp) / "node_modules" / PACKAGE
        wrong = mismatches(installed)
        if wrong and not trust:
            raise SystemExit(f"{PACKAGE}@{VERSION} from npm is not the pinned one: {wrong}")
        for name in FILES:
            if trust:
                print(f'    "{name}": "{sha256(installed / name)}",')
            target = VENDOR / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(installed / name, target)
    print(f"{PACKAGE} {VERSION}: {len(FILES)} files checked and copied into {VENDOR}")


if __name__ == "__main__":
    fetch(trust="--trust" in sys.argv[1:])
