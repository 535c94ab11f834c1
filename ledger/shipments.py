"""Products, batches and trace code → batch, imported from upstream shipment data; offline.

Shipment data arrives as JSON (``{"products": [...], "batches": [...], "trace_codes": [...]}``)
or as a flat CSV with one row per trace code (columns: trace_code, product_id, vaccine_code,
name, manufacturer_code, form, doses_per_vial, batch_no, production_date, expiry_date,
lot_release_no, and optionally gtin, open_life_hours). An import is all or nothing: the first
bad row is reported with its row number and field, and nothing is stored. A batch entered once
is not silently changed: different dates for a known batch are refused (corrections go back to
whoever entered it, DOMAIN "Stock").
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.batch_field import check_batch
from ledger.codes import trace_code
from ledger.errors import BatchFieldError, ShipmentInvalidError

_PRODUCT_ID = re.compile(r"[0-9]{7}")
_GTIN = re.compile(r"[0-9]{14}")
_GS1_KEY = re.compile(r"01[0-9]{14}21[!-~]{1,20}")
DEFAULT_OPEN_LIFE_HOURS = 6


@dataclass(frozen=True, slots=True)
class Product:
    product_id: str
    vaccine_code: str
    name: str
    manufacturer_code: str
    form: str
    doses_per_vial: int
    open_life_hours: int = DEFAULT_OPEN_LIFE_HOURS
    gtin: str | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    product_id: str
    batch_no: str
    production_date: date
    expiry_date: date
    lot_release_no: str


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a scanned package is: its code (trace code or GS1 key), product and batch.

    `verified` is False for a GS1 package of a batch whose shipment data lists no serials: the
    package cannot be checked against upstream, and is received as unverified."""

    code: str
    product: Product
    batch: Batch
    verified: bool = True


@dataclass(frozen=True, slots=True)
class ImportSummary:
    products: int
    batches: int
    trace_codes: int


@dataclass(frozen=True, slots=True)
class Shipment:
    """A parsed shipment: products, batches and (trace code, product id, batch no) rows."""

    products: list[Product]
    batches: list[Batch]
    trace_codes: list[tuple[str, str, str]]


def shipment_from_json(text: str | bytes) -> Shipment:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise ShipmentInvalidError("shipment", f"not JSON: {error}") from None
    if not isinstance(data, dict):
        raise ShipmentInvalidError("shipment", "JSON must be an object with products/batches")
    products = [_product(row, f"products[{i}]") for i, row in _items(data, "products")]
    batches = [_batch(row, f"batches[{i}]") for i, row in _items(data, "batches")]
    codes = [_trace(row, f"trace_codes[{i}]") for i, row in _items(data, "trace_codes")]
    return Shipment(products, batches, codes)


def shipment_from_csv(text: str) -> Shipment:
    reader = csv.DictReader(io.StringIO(text))
    products: dict[str, Product] = {}
    batches: dict[tuple[str, str], Batch] = {}
    codes: list[tuple[str, str, str]] = []
    for number, row in enumerate(reader, start=2):
        where = f"row {number}"
        product = _product(row, where)
        batch = _batch(row, where)
        if products.setdefault(product.product_id, product) != product:
            raise ShipmentInvalidError(f"{where}.product_id", "differs from an earlier row")
        if batches.setdefault((batch.product_id, batch.batch_no), batch) != batch:
            raise ShipmentInvalidError(f"{where}.batch_no", "dates differ from an earlier row")
        codes.append(_trace(row, where))
    return Shipment(list(products.values()), list(batches.values()), codes)


def _items(data: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    rows = data.get(key, [])
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ShipmentInvalidError(key, "must be a list of objects")
    return list(enumerate(rows))


def _text(row: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ShipmentInvalidError(f"{where}.{key}", "missing or empty")
        return ""
    if not isinstance(value, str | int):
        raise ShipmentInvalidError(f"{where}.{key}", "must be text")
    return str(value).strip()


def _int(row: dict[str, Any], key: str, where: str, default: int | None = None) -> int:
    text = _text(row, key, where, required=default is None)
    if not text and default is not None:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ShipmentInvalidError(f"{where}.{key}", f"{text!r} is not a positive whole number")
    return int(text)


def _date(row: dict[str, Any], key: str, where: str) -> date:
    text = _text(row, key, where)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ShipmentInvalidError(f"{where}.{key}", f"{text!r} is not a date YYYY-MM-DD") from None


def _product(row: dict[str, Any], where: str) -> Product:
    product_id = _text(row, "product_id", where)
    if not _PRODUCT_ID.fullmatch(product_id):
        raise ShipmentInvalidError(f"{where}.product_id", "must be 7 digits (药品标识码)")
    gtin = _text(row, "gtin", where, required=False) or None
    if gtin is not None and not _GTIN.fullmatch(gtin):
        raise ShipmentInvalidError(f"{where}.gtin", "must be 14 digits")
    return Product(
        product_id=product_id,
        vaccine_code=_text(row, "vaccine_code", where),
        name=_text(row, "name", where),
        manufacturer_code=_text(row, "manufacturer_code", where),
        form=_text(row, "form", where),
        doses_per_vial=_int(row, "doses_per_vial", where),
        open_life_hours=_int(row, "open_life_hours", where, DEFAULT_OPEN_LIFE_HOURS),
        gtin=gtin,
    )


def _batch(row: dict[str, Any], where: str) -> Batch:
    try:
        batch_no = check_batch(_text(row, "batch_no", where, required=False))
    except BatchFieldError as error:
        raise ShipmentInvalidError(f"{where}.batch_no", error.reason) from None
    production, expiry = _date(row, "production_date", where), _date(row, "expiry_date", where)
    if expiry <= production:
        raise ShipmentInvalidError(f"{where}.expiry_date", "not after the production date")
    return Batch(
        product_id=_product_id(row, where),
        batch_no=batch_no,
        production_date=production,
        expiry_date=expiry,
        lot_release_no=_text(row, "lot_release_no", where),
    )


def _product_id(row: dict[str, Any], where: str) -> str:
    product_id = _text(row, "product_id", where)
    if not _PRODUCT_ID.fullmatch(product_id):
        raise ShipmentInvalidError(f"{where}.product_id", "must be 7 digits (药品标识码)")
    return product_id


def _trace(row: dict[str, Any], where: str) -> tuple[str, str, str]:
    """A trace code row, or a GS1 package row (``gs1_key``: ``01<GTIN>21<serial>``, the
    serials an importer lists for imported vaccines)."""
    if row.get("gs1_key") and not row.get("trace_code"):
        key = _text(row, "gs1_key", where)
        if not _GS1_KEY.fullmatch(key):
            raise ShipmentInvalidError(f"{where}.gs1_key", "must be 01<14-digit GTIN>21<serial>")
        return key, _product_id(row, where), _text(row, "batch_no", where)
    trace = trace_code(_text(row, "trace_code", where))
    if trace is None:
        raise ShipmentInvalidError(f"{where}.trace_code", "must be 20 digits")
    product_id = _product_id(row, where)
    if trace.product_id != product_id:
        raise ShipmentInvalidError(
            f"{where}.trace_code",
            f"first 7 digits {trace.product_id} are not product {product_id}",
        )
    return trace.code, product_id, _text(row, "batch_no", where)
