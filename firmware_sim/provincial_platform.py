"""A fake provincial immunisation platform: takes upload XML, answers per record; can be down.

POST /upload with the XML of `ledger.upload_xml` (dose records) or of `ledger.circulation_xml`
(receipts, issues, returns, scraps: the root element says which, and its own XSD applies).
Each record is checked against the platform's own dictionaries (by default the project's code
tables; tests pass different ones to provoke rejections) and answered with the messages the
national platform uses (reference/upload_errors.csv). An XML document that does not follow its
XSD is answered ``xml格式错误`` for the whole batch (HTTP 400). ``down = True`` answers 503 to
everything.

Every verdict is also kept as feedback, read with GET /feedback?after=CURSOR (``{"feedback":
[{"message", "record_id", "version", "ok", "error"}], "cursor"}``); `reject_later` makes the
platform accept a record when it comes and refuse it afterwards in the feedback only (a check
the real platform makes after receiving, such as a duplicate archive).

Recipient and archive fields are checked as the national platform does: 户籍县 (a county),
现住地区, 婚姻状况 and 职业 against the dictionaries; a parent's or guardian's name for a minor and
the mother's name for a newborn; the archive's units (建档, 现管理, 档案更新, 修改) against the
platform's dictionary of units (`units`, None: any 10-digit code) and its province (`province`,
the first two digits a unit of this platform has; None: any), with 起始管理日期 and 修改时间.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import xmlschema
from aiohttp import web

from ledger import circulation_xml
from ledger.errors import UploadError
from ledger.tables import ReferenceTables, load_tables
from ledger.upload_xml import schema
from ledger.vaccination_records import ADULT_YEARS, NEWBORN_DAYS

XML_ERROR = "xml格式错误"
DOSE = "dose"


@dataclass
class ProvincialPlatform:
    tables: ReferenceTables = field(default_factory=load_tables)
    down: bool = False
    units: frozenset[str] | None = None
    province: str | None = None
    accepted: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    moved: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    """Accepted circulation events (event_id, version) -> fields, with their ``kind``."""
    feedback: list[dict[str, Any]] = field(default_factory=list)
    later: dict[str, str] = field(default_factory=dict)
    requests: int = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/upload", self._upload)
        app.router.add_get("/feedback", self._feedback)
        return app

    def reject_later(self, record_id: str, message: str) -> None:
        """Accept `record_id` when it comes, then refuse it with `message` in the feedback."""
        self.later[record_id] = message

    async def _upload(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.down:
            return web.json_response({"error": "service unavailable"}, status=503)
        body = await request.read()
        try:
            kind = circulation_xml.kind_of(body)
        except UploadError:
            kind = DOSE
        try:
            message = schema() if kind == DOSE else circulation_xml.schema(kind)
            data = message.to_dict(body.decode("utf-8"))
        except (xmlschema.XMLSchemaException, UnicodeDecodeError, ValueError):
            return web.json_response({"results": [], "error": XML_ERROR}, status=400)
        if not isinstance(data, dict):
            return web.json_response({"results": [], "error": XML_ERROR}, status=400)
        results = []
        for raw in data.get("Record" if kind == DOSE else "Event", []):
            record = {_local(k): v for k, v in raw.items()}
            if kind == DOSE:
                errors, key = self.check(record), (str(record["RecordId"]), int(record["Version"]))
            else:
                errors = self.check_circulation(kind, record)
                key = (str(record["EventId"]), int(record["Version"]))
            if not errors:
                kept = self.accepted if kind == DOSE else self.moved
                kept[key] = record if kind == DOSE else {**record, "kind": kind}
            result = {"record_id": key[0], "version": key[1], "ok": not errors,
                      "error": errors[0] if errors else ""}  # fmt: skip
            results.append(result)
            self.feedback.append({"message": kind, **result})
            if not errors and key[0] in self.later:
                error = self.later.pop(key[0])
                self.feedback.append({"message": kind, **result, "ok": False, "error": error})
        return web.json_response({"results": results})

    async def _feedback(self, request: web.Request) -> web.Response:
        after = request.query.get("after", "0")
        start = int(after) if after.isdigit() else 0
        return web.json_response(
            {"feedback": self.feedback[start:], "cursor": str(len(self.feedback))}
        )

    def check_circulation(self, kind: str, event: dict[str, Any]) -> list[str]:
        """A circulation event's refusals, in the platform's words (seed 000's list)."""
        t = self.tables
        errors = []
        if kind in {"issue", "return"}:
            out = str(event.get("OutUnitCode") or "")
            if not out:
                errors.append("出库单位编码不能为空")
            elif self.units is not None and out not in self.units:
                errors.append("出库单位编码值不在字典中")
        if kind == "scrap":
            reason = str(event.get("ScrapReasonCode") or "")
            if not reason:
                errors.append("疫苗报废原因代码不能为空")
            elif reason not in t.scrap_reasons:
                errors.append("疫苗报废原因代码值不在字典中")
        vaccine = t.vaccines.get(str(event.get("VaccineCode") or ""))
        if vaccine is None:
            errors.append("疫苗名称代码值不在字典中")
        manufacturer = str(event.get("ManufacturerCode") or "")
        if manufacturer not in t.manufacturers:
            errors.append("疫苗生产企业代码值不在字典中")
        elif vaccine is not None and manufacturer not in vaccine.manufacturers:
            errors.append("疫苗生产企业和疫苗不匹配")
        return errors

    def check(self, record: dict[str, Any]) -> list[str]:
        """Messages in the platform's words; empty when the record is accepted."""
        t = self.tables
        errors = []
        if not record.get("CrowdCategory"):
            errors.append("人群分类代码不能为空")
        elif record["CrowdCategory"] not in t.crowd_categories:
            errors.append("人群分类代码值不在字典中")
        vaccine = t.vaccines.get(str(record.get("VaccineCode", "")))
        if vaccine is None:
            errors.append("疫苗名称代码值不在字典中")
        manufacturer = str(record.get("ManufacturerCode", ""))
        if manufacturer not in t.manufacturers:
            errors.append("疫苗生产企业代码值不在字典中")
        elif vaccine is not None and manufacturer not in vaccine.manufacturers:
            errors.append("疫苗生产企业和疫苗不匹配")
        if str(record.get("VaccineAttribute", "")) not in t.vaccine_attributes:
            errors.append("疫苗属性代码值不在字典中")
        if not record.get("VaccinationType"):
            errors.append("预防接种类型不能为空")
        if str(record.get("SiteCode", "")) not in t.sites:
            errors.append("接种部位代码值不在字典中")
        if not record.get("VaccinatorName"):
            errors.append("疫苗接种医生姓名不能为空")
        if not record.get("UnitCode"):
            errors.append("接种单位代码不能为空")
        if not record.get("Address"):
            errors.append("居住地址不能为空")
        born = date.fromisoformat(str(record["BirthDate"]))
        given = date.fromisoformat(str(record["VaccinationTime"])[:10])
        if born.year < 1900 or born > given:
            errors.append("受种者出生时间值超出允许范围")
        errors += self._person(record, born, given)
        errors += self._archive(record)
        return errors

    def _person(self, record: dict[str, Any], born: date, given: date) -> list[str]:
        t = self.tables
        errors = []
        county = _text(record, "HouseholdCounty")
        if not county:
            errors.append("户籍县编码不能为空")
        elif county not in t.counties():
            errors.append("户籍县编码值不在字典中")
        if _text(record, "CurrentArea") not in t.regions:
            errors.append("现住地区代码值不在字典中")
        if _text(record, "MaritalStatus") not in t.marital_statuses:
            errors.append("婚姻状况代码值不在字典中")
        if _text(record, "Occupation") not in t.occupations:
            errors.append("职业类别代码值不在字典中")
        years = given.year - born.year - ((given.month, given.day) < (born.month, born.day))
        parents = ("FatherName", "MotherName", "GuardianName")
        if years < ADULT_YEARS and not any(_text(record, name) for name in parents):
            errors.append("父亲姓名或母亲姓名或监护人姓名参数不能为空")
        if (given - born).days < NEWBORN_DAYS and not _text(record, "MotherName"):
            errors.append("新生儿母亲姓名不能为空")
        return errors

    def _archive(self, record: dict[str, Any]) -> list[str]:
        errors = []
        management = _text(record, "ManagementUnit")
        if not management:
            errors.append("现管理单位代码不能为空")
        else:
            errors += self._unit(management, "现管理单位代码")
        if not _text(record, "ManagementStart"):
            errors.append("起始管理日期不能为空")
        archive = _text(record, "ArchiveUnit")
        if archive and not self._in_province(archive):
            errors.append("建档单位代码值超出允许范围")
        errors += self._unit(_text(record, "RecipientUpdateUnit"), "受种者档案更新单位编码")
        errors += self._unit(_text(record, "UpdateUnit"), "修改单位代码")
        if not _text(record, "UpdateTime"):
            errors.append("修改时间不能为空")
        return errors

    def _unit(self, code: str, label: str) -> list[str]:
        """`label`值不在字典中 / 值超出允许范围 for a unit code given (empty: no message)."""
        if not code:
            return []
        if self.units is not None and code not in self.units:
            return [f"{label}值不在字典中"]
        if not self._in_province(code):
            return [f"{label}值超出允许范围"]
        return []

    def _in_province(self, code: str) -> bool:
        return self.province is None or code.startswith(self.province)


def _text(record: dict[str, Any], name: str) -> str:
    value = record.get(name)
    return "" if value is None else str(value).strip()


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


async def serve(
    platform: ProvincialPlatform, host: str = "127.0.0.1", port: int = 0
) -> tuple[web.AppRunner, int]:
    """Start on a free port; returns the runner (call `cleanup()`) and the port."""
    runner = web.AppRunner(platform.app())
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    bound: int = server.sockets[0].getsockname()[1]
    return runner, bound
