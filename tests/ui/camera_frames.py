"""Video for Chromium's fake camera (`--use-file-for-fake-video-capture`): frames of a package
label, with or without a barcode drawn by pyStrich, an encoder independent of the decoder the
pages use. Chromium plays the file in a loop, in the y4m format written here."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw
from pystrich.code128 import Code128Encoder
from pystrich.datamatrix import DataMatrixData, DataMatrixEncoder
from pystrich.gs1 import GS1Fixed, GS1Variable

WIDTH, HEIGHT = 640, 480
FPS = 10
PAPER = 235


def trace_code(code: str) -> Image.Image:
    """A 20-digit trace code as Code 128, the way packages print it."""
    encoder = Code128Encoder(code, options={"show_label": False, "height": 140})
    return encoder.get_pilimage(bar_width=3)


def gs1_datamatrix(gtin: str, expiry: str, batch: str, serial: str) -> Image.Image:
    """A GS1 DataMatrix: FNC1 first, then AI 01, 17, 10 and 21 (FNC1 after the batch)."""
    data = DataMatrixData.gs1(
        GS1Fixed("01", gtin), GS1Fixed("17", expiry), GS1Variable("10", batch),
        GS1Variable("21", serial),
    )  # fmt: skip
    return DataMatrixEncoder(data).get_pilimage(cellsize=10)


def label(symbol: Image.Image | None) -> Image.Image:
    """One frame: a grey package label, the symbol (if any) in its middle."""
    frame = Image.new("L", (WIDTH, HEIGHT), 90)
    ImageDraw.Draw(frame).rectangle((40, 40, WIDTH - 40, HEIGHT - 40), fill=PAPER)
    if symbol is not None:
        gray = symbol.convert("L")
        frame.paste(gray, ((WIDTH - gray.width) // 2, (HEIGHT - gray.height) // 2))
    return frame


def write_video(path: Path, frames: list[Image.Image]) -> Path:
    """`frames` as a y4m file (4:2:0, no colour): Chromium's fake camera loops it."""
    chroma = bytes([128]) * (WIDTH * HEIGHT // 2)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            assert frame.size == (WIDTH, HEIGHT), frame.size
            out.write(b"FRAME\n" + frame.tobytes() + chroma)
    return path


def video_of(path: Path, symbol: Image.Image | None, *, blank_first: int = 0) -> Path:
    """`blank_first` frames of a label without a code, then a second of the label with it."""
    return write_video(path, [label(None)] * blank_first + [label(symbol)] * FPS)
