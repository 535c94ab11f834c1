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

from gateway.storage.ledger.db import LedgerDB
from ledger.batch_field import check_batch
from ledger.codes import Gs1Code, TraceCode, trace_code
from ledger.errors import BatchFieldError, CatalogueError

_PRODUCT_ID = re.compile(r"[0-9]{7}")
_GTIN = re.compile(r"[0-9]{14}")
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
    """What a scanned package is: its code (trace code or GS1 key), product and batch."""

    code: str
    product: Product
    batch: Batch


@dataclass(frozen=True, slots=True)
class ImportSummary:
    products: int
    batches: int
    trace_codes: int


class Catalogue:
    def __init__(self, db: LedgerDB) -> None:
        self.db = db

    # -- import ----------------------------------------------------------------------------

    def import_json(self, text: str | bytes) -> ImportSummary:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as error:
            raise CatalogueError("shipment", f"not JSON: {error}") from None
        if not isinstance(data, dict):
            raise CatalogueError("shipment", "JSON must be an object with products/batches")
        products = [_product(row, f"products[{i}]") for i, row in _items(data, "products")]
        batches = [_batch(row, f"batches[{i}]") for i, row in _items(data, "batches")]
        codes = [_trace(row, f"trace_codes[{i}]") for i, row in _items(data, "trace_codes")]
        return self._store(products, batches, codes)

    def import_csv(self, text: str) -> ImportSummary:
        reader = csv.DictReader(io.StringIO(text))
        products: dict[str, Product] = {}
        batches: dict[tuple[str, str], Batch] = {}
        codes: list[tuple[str, str, str]] = []
        for number, row in enumerate(reader, start=2):
            where = f"row {number}"
            product = _product(row, where)
            batch = _batch(row, where)
            if products.setdefault(product.product_id, product) != product:
                raise CatalogueError(f"{where}.product_id", "differs from an earlier row")
            if batches.setdefault((batch.product_id, batch.batch_no), batch) != batch:
                raise CatalogueError(f"{where}.batch_no", "dates differ from an earlier row")
            codes.append(_trace(row, where))
        return self._store(list(products.values()), list(batches.values()), codes)

    def _store(
        self, products: list[Product], batches: list[Batch], codes: list[tuple[str, str, str]]
    ) -> ImportSummary:
        with self.db.transaction("import shipment") as conn:
            for p in products:
                old = self.product(p.product_id)
                if old is not None and old != p:
                    raise CatalogueError(
                        "product_id", f"{p.product_id} already known with other data"
                    )
                conn.execute(
                    "INSERT OR IGNORE INTO products VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (p.product_id, p.vaccine_code, p.name, p.manufacturer_code, p.form,
                     p.doses_per_vial, p.open_life_hours, p.gtin),
                )  # fmt: skip
            for b in batches:
                if self.product(b.product_id) is None:
                    raise CatalogueError("batch.product_id", f"{b.product_id} is not a product")
                old_batch = self.batch(b.product_id, b.batch_no)
                if old_batch is not None and old_batch != b:
                    raise CatalogueError(
                        "batch_no",
                        f"{b.batch_no} already known with other dates; corrections go back to"
                        " whoever entered it",
                    )
                conn.execute(
                    "INSERT OR IGNORE INTO batches VALUES (?, ?, ?, ?, ?)",
                    (b.product_id, b.batch_no, b.production_date.isoformat(),
                     b.expiry_date.isoformat(), b.lot_release_no),
                )  # fmt: skip
            for code, product_id, batch_no in codes:
                if self.batch(product_id, batch_no) is None:
                    raise CatalogueError("trace_code", f"{code}: batch {batch_no} not in shipment")
                row = conn.execute(
                    "SELECT product_id, batch_no FROM trace_codes WHERE code = ?", (code,)
                ).fetchone()
                if row is not None and tuple(row) != (product_id, batch_no):
                    raise CatalogueError("trace_code", f"{code} already belongs to batch {row[1]}")
                conn.execute(
                    "INSERT OR IGNORE INTO trace_codes VALUES (?, ?, ?)",
                    (code, product_id, batch_no),
                )
        return ImportSummary(len(products), len(batches), len(codes))

    # -- look-ups --------------------------------------------------------------------------

    def product(self, product_id: str) -> Product | None:
        with self.db.translated("read product"):
            row = self.db.conn.execute(
                "SELECT * FROM products WHERE product_id = ?", (product_id,)
            ).fetchone()
        return None if row is None else Product(*row)

    def product_by_gtin(self, gtin: str) -> Product | None:
        with self.db.translated("read product"):
            row = self.db.conn.execute("SELECT * FROM products WHERE gtin = ?", (gtin,)).fetchone()
        return None if row is None else Product(*row)

    def batch(self, product_id: str, batch_no: str) -> Batch | None:
        with self.db.translated("read batch"):
            row = self.db.conn.execute(
                "SELECT * FROM batches WHERE product_id = ? AND batch_no = ?",
                (product_id, batch_no),
            ).fetchone()
        if row is None:
            return None
        return Batch(row[0], row[1], date.fromisoformat(row[2]), date.fromisoformat(row[3]), row[4])

    def resolve(self, scan: TraceCode | Gs1Code) -> Resolved:
        """Product and batch of a scanned package, from the local catalogue (works offline)."""
        if isinstance(scan, TraceCode):
            with self.db.translated("read trace code"):
                row = self.db.conn.execute(
                    "SELECT product_id, batch_no FROM trace_codes WHERE code = ?", (scan.code,)
                ).fetchone()
            if row is None:
                raise CatalogueError("trace_code", f"{scan.code} is not in the local catalogue")
            product, batch = self.product(row[0]), self.batch(row[0], row[1])
            if product is None or batch is None:
                raise CatalogueError("trace_code", f"{scan.code}: product or batch missing")
            return Resolved(scan.code, product, batch)
        product = self.product_by_gtin(scan.gtin)
        if product is None:
            raise CatalogueError("gtin", f"GTIN {scan.gtin} is not in the local catalogue")
        if not scan.batch_no or not scan.serial:
            raise CatalogueError("scan", "GS1 code lacks batch (AI 10) or serial (AI 21)")
        batch = self.batch(product.product_id, scan.batch_no)
        if batch is None:
            raise CatalogueError("batch_no", f"batch {scan.batch_no} of {product.name} is unknown")
        if scan.expiry is not None and scan.expiry != batch.expiry_date:
            raise CatalogueError(
                "expiry", f"label says {scan.expiry}, catalogue says {batch.expiry_date}"
            )
        return Resolved(scan.key, product, batch)


def _items(data: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    rows = data.get(key, [])
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise CatalogueError(key, "must be a list of objects")
    return list(enumerate(rows))


def _text(row: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise CatalogueError(f"{where}.{key}", "missing or empty")
        return ""
    if not isinstance(value, str | int):
        raise CatalogueError(f"{where}.{key}", "must be text")
    return str(value).strip()


def _int(row: dict[str, Any], key: str, where: str, default: int | None = None) -> int:
    text = _text(row, key, where, required=default is None)
    if not text and default is not None:
        return default
    if not text.isdigit() or int(text) < 1:
        raise CatalogueError(f"{where}.{key}", f"{text!r} is not a positive whole number")
    return int(text)


def _date(row: dict[str, Any], key: str, where: str) -> date:
    text = _text(row, key, where)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CatalogueError(f"{where}.{key}", f"{text!r} is not a date YYYY-MM-DD") from None


def _product(row: dict[str, Any], where: str) -> Product:
    product_id = _text(row, "product_id", where)
    if not _PRODUCT_ID.fullmatch(product_id):
        raise CatalogueError(f"{where}.product_id", "must be 7 digits (药品标识码)")
    gtin = _text(row, "gtin", where, required=False) or None
    if gtin is not None and not _GTIN.fullmatch(gtin):
        raise CatalogueError(f"{where}.gtin", "must be 14 digits")
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
        raise CatalogueError(f"{where}.batch_no", error.reason) from None
    production, expiry = _date(row, "production_date", where), _date(row, "expiry_date", where)
    if expiry <= production:
        raise CatalogueError(f"{where}.expiry_date", "not after the production date")
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
        raise CatalogueError(f"{where}.product_id", "must be 7 digits (药品标识码)")
    return product_id


def _trace(row: dict[str, Any], where: str) -> tuple[str, str, str]:
    trace = trace_code(_text(row, "trace_code", where))
    if trace is None:
        raise CatalogueError(f"{where}.trace_code", "must be 20 digits")
    product_id = _product_id(row, where)
    if trace.product_id != product_id:
        raise CatalogueError(
            f"{where}.trace_code",
            f"first 7 digits {trace.product_id} are not product {product_id}",
        )
    return trace.code, product_id, _text(row, "batch_no", where)
