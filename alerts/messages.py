"""Chinese alarm messages: unit, fridge, compartment, what is wrong, since when, tier, ack link.

Times are shown in China Standard Time. Messages name places and conditions, never people's
ID numbers; the recipient's name is not needed either (each message goes to one person).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from alerts.escalation_state import Notify, NotifyReason
from alerts.model import ConditionKind
from gateway.core.clinic_time import CLINIC_TZ
from gateway.core.compartments import FridgeSettings, find_compartment

TIER_NAMES = {1: "一级（疫苗管理员）", 2: "二级（科室负责人）", 3: "三级（单位负责人）"}
FAULT_NAMES = {
    "disconnected": "探头断开",
    "out_of_range": "读数超出量程",
    "bus_error": "通信错误",
    "stale": "数据未更新",
}
# What is wrong, in two or three words (the acknowledgement page's heading).
KIND_NAMES = {
    ConditionKind.TOO_WARM: "温度过高",
    ConditionKind.TOO_COLD: "温度过低",
    ConditionKind.PROBE_OFFLINE: "探头无数据",
    ConditionKind.PROBE_FAULT: "探头故障",
    ConditionKind.BATTERY_LOW: "探头电量低",
    ConditionKind.GATEWAY_POWER: "网关断电",
    ConditionKind.GATEWAY_LINK: "通信中断",
    ConditionKind.WHO_HEAT: "累计高温",
    ConditionKind.WHO_FREEZE: "冻结风险",
}
_DESCRIPTIONS = {
    ConditionKind.TOO_WARM: "温度过高 {temperature}{limits}",
    ConditionKind.TOO_COLD: "温度过低 {temperature}{limits}",
    ConditionKind.PROBE_OFFLINE: "探头 {probe} 无数据",
    ConditionKind.PROBE_FAULT: "探头 {probe} 故障（{fault}）",
    ConditionKind.BATTERY_LOW: "探头 {probe} 电量低（{level}%）",
    ConditionKind.GATEWAY_POWER: "网关断电 {gap}，已恢复供电",
    ConditionKind.GATEWAY_LINK: "{where} 通信中断",
    ConditionKind.WHO_HEAT: "累计高温 ≥ 8 °C 达 10 小时",
    ConditionKind.WHO_FREEZE: "冻结风险 ≤ −0.5 °C 达 60 分钟",
}


@dataclass(frozen=True, slots=True)
class Place:
    """Where an alarm is, in words; `limits` is the compartment's range, e.g. "2.0～8.0 °C"."""

    unit_name: str
    fridge_name: str | None = None
    compartment_name: str | None = None
    limits: str = ""

    @property
    def words(self) -> str:
        return " ".join(p for p in (self.fridge_name, self.compartment_name) if p) or "网关"


@dataclass(frozen=True, slots=True)
class Message:
    """One rendering per form: `text` (SMS, WeCom text), `markdown`, `speech` (voice), and the
    parts a WeChat template fills its keywords from."""

    text: str
    markdown: str
    speech: str
    parts: dict[str, str]


def place_of(unit_name: str, fridges: Iterable[FridgeSettings], subject: str) -> Place:
    """Names for an alarm's subject: a compartment reference, or a gateway/bus name."""
    try:
        fridge, compartment = find_compartment(fridges, subject)
    except KeyError:
        return Place(unit_name, fridge_name=f"网关 {subject}")
    low = "" if compartment.min_c is None else f"{compartment.min_c:.1f}"
    high = "" if compartment.max_c is None else f"{compartment.max_c:.1f}"
    limits = f"{low}～{high} °C" if low and high else (f"≤ {high} °C" if high else f"≥ {low} °C")
    return Place(unit_name, fridge.name, compartment.name, limits)


def describe(notify: Notify, place: Place) -> str:
    """What is wrong, in a few words."""
    value = notify.value
    return _DESCRIPTIONS[notify.condition.kind].format(
        temperature=_temperature(notify),
        level="?" if value is None else f"{value:.0f}",
        gap=_duration(value or 0.0),
        limits=f"（正常 {place.limits}）" if place.limits else "",
        probe=notify.condition.probe,
        fault=FAULT_NAMES.get(notify.detail, notify.detail),
        where=place.words,
    )


def render(
    notify: Notify, place: Place, ack_link: str, doses_at_risk: int | None = None
) -> Message:
    """`doses_at_risk`: doses the stock ledger places in the compartment (None: not known)."""
    condition = describe(notify, place)
    if doses_at_risk is not None:
        condition += f"，在库疫苗 {doses_at_risk} 剂受影响"
    since = _local(notify.since)
    ended = notify.at if notify.cleared_at is None else notify.cleared_at
    lasted = _duration((ended - notify.since).total_seconds())
    tier = TIER_NAMES[notify.tier]
    title = {
        NotifyReason.OPENED: "冷链报警",
        NotifyReason.ESCALATED: "冷链报警升级",
        NotifyReason.REPEAT: f"冷链报警第 {notify.repeat} 轮提醒",
    }[notify.reason]
    action = "请尽快到场处置，并点击链接确认到场"
    if notify.cleared_at is not None:
        condition += f"；已于 {_measured_at(notify.cleared_at, notify.at)} 恢复正常"
        action = "报警尚未关闭：请登记原因和处置措施后关闭报警"
    where = f"{place.unit_name} {place.words}"
    text = (
        f"【{title}】{tier}\n"
        f"单位：{place.unit_name}\n"
        f"位置：{place.words}\n"
        f"情况：{condition}\n"
        f"开始：{since}（北京时间），已持续 {lasted}\n"
        f"{action}：{ack_link}"
    )
    markdown = (
        f'## <font color="warning">{title}</font> {tier}\n'
        f"> 单位：{place.unit_name}\n"
        f"> 位置：{place.words}\n"
        f"> 情况：**{condition}**\n"
        f"> 开始：{since}（北京时间），已持续 {lasted}\n\n"
        f"[{action}]({ack_link})"
    )
    speech = f"{title}。{where}，{condition}。从{since}开始，已持续{lasted}。{action}。"
    parts = {
        "title": f"{title} {tier}",
        "place": where,
        "condition": condition,
        "since": since,
        "tier": tier,
        "action": action,
    }
    return Message(text, markdown, speech, parts)


def _temperature(notify: Notify) -> str:
    """The current temperature and the peak so far, each with when it was measured: "当前
    18.5 °C（14:40 测得），最高 19.2 °C（13:10 测得）". Without them, the alarm's own value."""
    if notify.current is None or notify.current_at is None:
        return "? °C" if notify.value is None else f"{notify.value:.1f} °C"
    text = f"当前 {notify.current:.1f} °C（{_measured_at(notify.current_at, notify.at)} 测得）"
    if notify.peak is not None and notify.peak_at is not None:
        word = "最高" if notify.condition.kind is ConditionKind.TOO_WARM else "最低"
        text += f"，{word} {notify.peak:.1f} °C（{_measured_at(notify.peak_at, notify.at)} 测得）"
    return text


def _measured_at(moment: datetime, now: datetime) -> str:
    """Clock time in the clinic; with the date when it was not today."""
    local, today = moment.astimezone(CLINIC_TZ), now.astimezone(CLINIC_TZ)
    return local.strftime("%H:%M" if local.date() == today.date() else "%m-%d %H:%M")


def _local(moment: datetime) -> str:
    return moment.astimezone(CLINIC_TZ).strftime("%Y-%m-%d %H:%M")


def _duration(seconds: float) -> str:
    minutes = max(int(seconds // 60), 0)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} 小时 {minutes} 分钟" if hours else f"{minutes} 分钟"
