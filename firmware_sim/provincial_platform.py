"""A fake provincial immunisation platform: takes upload XML, answers per record; can be down.

POST /upload with the XML of `ledger.upload_xml`. Each record is checked against the platform's
own dictionaries (by default the project's code tables; tests pass different ones to provoke
rejections) and answered with the messages the national platform uses
(reference/upload_errors.csv). An XML document that does not follow the XSD is answered
``xml格式错误`` for the whole batch (HTTP 400). ``down = True`` answers 503 to everything.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import xmlschema
from aiohttp import web

from ledger.tables import ReferenceTables, load_tables
from ledger.upload_xml import schema

XML_ERROR = "xml格式错误"


@dataclass
class ProvincialPlatform:
    tables: ReferenceTables = field(default_factory=load_tables)
    down: bool = False
    accepted: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    requests: int = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/upload", self._upload)
        return app

    async def _upload(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.down:
            return web.json_response({"error": "service unavailable"}, status=503)
        body = await request.read()
        try:
            data = schema().to_dict(body.decode("utf-8"))
        except (xmlschema.XMLSchemaException, UnicodeDecodeError, ValueError):
            return web.json_response({"results": [], "error": XML_ERROR}, status=400)
        if not isinstance(data, dict):
            return web.json_response({"results": [], "error": XML_ERROR}, status=400)
        results = []
        for raw in data.get("Record", []):
            record = {_local(k): v for k, v in raw.items()}
            errors = self.check(record)
            key = (str(record["RecordId"]), int(record["Version"]))
            if not errors:
                self.accepted[key] = record
            results.append({"record_id": key[0], "version": key[1], "ok": not errors,
                            "error": errors[0] if errors else ""})  # fmt: skip
        return web.json_response({"results": results})

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
        if born.year < 1900 or born > date.fromisoformat(str(record["VaccinationTime"])[:10]):
            errors.append("受种者出生时间值超出允许范围")
        return errors


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
