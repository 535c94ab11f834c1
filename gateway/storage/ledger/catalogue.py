"""The catalogue in the ledger file: products, batches and trace code → batch, stored from a
parsed shipment (`ledger.shipments`), all or nothing; looked up by scanned code.

A batch entered once is not silently changed: different dates for a known batch are refused
(corrections go back to whoever entered it, DOMAIN "Stock").

A GS1 package (imported vaccines) is known by its key, ``01<GTIN>21<serial>``. Shipment data
may list those keys among its trace codes: then a package of that batch is accepted only if its
key is listed (a made-up serial of a known GTIN and batch is refused). Where the upstream data
lists no serial for the batch, the package resolves as unverified (`Resolved.verified`).
"""

from __future__ import annotations

from datetime import date

from gateway.storage.ledger.db import LedgerDB
from ledger.codes import Gs1Code, TraceCode
from ledger.errors import (
    BatchUnknownError,
    CatalogueConflictError,
    CatalogueEntryMissingError,
    ExpiryMismatchError,
    Gs1IncompleteError,
    GtinUnknownError,
    ShipmentInvalidError,
    TraceCodeUnknownError,
    UnknownSerialError,
)
from ledger.shipments import (
    Batch,
    ImportSummary,
    Product,
    Resolved,
    Shipment,
    shipment_from_csv,
    shipment_from_json,
)


class Catalogue:
    def __init__(self, db: LedgerDB) -> None:
        self.db = db

    # -- import ----------------------------------------------------------------------------

    def import_json(self, text: str | bytes) -> ImportSummary:
        return self._store(shipment_from_json(text))

    def import_csv(self, text: str) -> ImportSummary:
        return self._store(shipment_from_csv(text))

    def _store(self, shipment: Shipment) -> ImportSummary:
        products, batches, codes = shipment.products, shipment.batches, shipment.trace_codes
        with self.db.transaction("import shipment") as conn:
            for p in products:
                old = self.product(p.product_id)
                if old is not None and old != p:
                    raise CatalogueConflictError(
                        "product_id",
                        f"{p.product_id} already known with other data",
                        params={"value": p.product_id},
                    )
                conn.execute(
                    "INSERT OR IGNORE INTO products VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (p.product_id, p.vaccine_code, p.name, p.manufacturer_code, p.form,
                     p.doses_per_vial, p.open_life_hours, p.gtin),
                )  # fmt: skip
            for b in batches:
                if self.product(b.product_id) is None:
                    raise ShipmentInvalidError(
                        "batch.product_id", f"{b.product_id} is not a product"
                    )
                old_batch = self.batch(b.product_id, b.batch_no)
                if old_batch is not None and old_batch != b:
                    raise CatalogueConflictError(
                        "batch_no",
                        f"{b.batch_no} already known with other dates; corrections go back to"
                        " whoever entered it",
                        params={"value": b.batch_no},
                    )
                conn.execute(
                    "INSERT OR IGNORE INTO batches VALUES (?, ?, ?, ?, ?)",
                    (b.product_id, b.batch_no, b.production_date.isoformat(),
                     b.expiry_date.isoformat(), b.lot_release_no),
                )  # fmt: skip
            for code, product_id, batch_no in codes:
                if self.batch(product_id, batch_no) is None:
                    raise ShipmentInvalidError(
                        "trace_code", f"{code}: batch {batch_no} not in shipment"
                    )
                product = self.product(product_id)
                if not (len(code) == 20 and code.isdigit()) and (
                    product is None or product.gtin != code[2:16]
                ):
                    raise ShipmentInvalidError("gs1_key", f"{code}: not the GTIN of {product_id}")
                row = conn.execute(
                    "SELECT product_id, batch_no FROM trace_codes WHERE code = ?", (code,)
                ).fetchone()
                if row is not None and tuple(row) != (product_id, batch_no):
                    raise CatalogueConflictError(
                        "trace_code",
                        f"{code} already belongs to batch {row[1]}",
                        params={"value": code},
                    )
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

    def expiry_of(self, vaccine_code: str, batch_no: str) -> date | None:
        """The expiry date of a batch of a vaccine (None when the catalogue lacks it)."""
        with self.db.translated("read batch"):
            row = self.db.conn.execute(
                "SELECT b.expiry_date FROM batches b JOIN products p USING (product_id)"
                " WHERE b.batch_no = ? AND p.vaccine_code = ? LIMIT 1",
                (batch_no, vaccine_code),
            ).fetchone()
        return None if row is None else date.fromisoformat(row[0])

    def resolve(self, scan: TraceCode | Gs1Code) -> Resolved:
        """Product and batch of a scanned package, from the local catalogue (works offline)."""
        if isinstance(scan, TraceCode):
            with self.db.translated("read trace code"):
                row = self.db.conn.execute(
                    "SELECT product_id, batch_no FROM trace_codes WHERE code = ?", (scan.code,)
                ).fetchone()
            if row is None:
                raise TraceCodeUnknownError(
                    "trace_code",
                    f"{scan.code} is not in the local catalogue",
                    params={"code": scan.code},
                )
            product, batch = self.product(row[0]), self.batch(row[0], row[1])
            if product is None or batch is None:
                raise CatalogueEntryMissingError(
                    "trace_code",
                    f"{scan.code}: product or batch missing",
                    params={"code": scan.code},
                )
            return Resolved(scan.code, product, batch)
        product = self.product_by_gtin(scan.gtin)
        if product is None:
            raise GtinUnknownError(
                "gtin",
                f"GTIN {scan.gtin} is not in the local catalogue",
                params={"gtin": scan.gtin},
            )
        if not scan.batch_no or not scan.serial:
            raise Gs1IncompleteError("scan", "GS1 code lacks batch (AI 10) or serial (AI 21)")
        batch = self.batch(product.product_id, scan.batch_no)
        if batch is None:
            raise BatchUnknownError(
                "batch_no",
                f"batch {scan.batch_no} of {product.name} is unknown",
                params={"batch_no": scan.batch_no, "product": product.name},
            )
        if scan.expiry is not None and scan.expiry != batch.expiry_date:
            raise ExpiryMismatchError(
                "expiry",
                f"label says {scan.expiry}, catalogue says {batch.expiry_date}",
                params={
                    "label": scan.expiry.isoformat(),
                    "catalogue": batch.expiry_date.isoformat(),
                },
            )
        return Resolved(scan.key, product, batch, verified=self._serial_listed(scan, batch))

    def _serial_listed(self, scan: Gs1Code, batch: Batch) -> bool:
        """True when the shipment data lists this package; False when it lists no serial of
        the batch; a refusal when it lists others but not this one."""
        with self.db.translated("read GS1 serials"):
            conn = self.db.conn
            listed = conn.execute(
                "SELECT 1 FROM trace_codes WHERE code = ? AND product_id = ? AND batch_no = ?",
                (scan.key, batch.product_id, batch.batch_no),
            ).fetchone()
            others = conn.execute(
                "SELECT 1 FROM trace_codes WHERE product_id = ? AND batch_no = ? AND code LIKE ?"
                " LIMIT 1",
                (batch.product_id, batch.batch_no, f"01{scan.gtin}21%"),
            ).fetchone()
        if listed is not None:
            return True
        if others is None:
            return False
        raise UnknownSerialError(
            "serial",
            f"serial {scan.serial} is not in the shipment data of batch {batch.batch_no}: a"
            " package the upstream did not send; set it aside and ask the supplier",
            params={"serial": scan.serial, "batch_no": batch.batch_no},
        )
