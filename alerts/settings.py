"""The [alerts] configuration: people, tiers, channels, timings, rule thresholds, ack links.

These models are meant to hang under the gateway's `Settings` as `alerts: AlertSettings | None`.
Rules spanning fields are checked here, so a tier naming an unknown person or a channel that
cannot reach anyone fails at start-up with the key and the fix. Rule overrides name
compartments, which only the whole configuration knows: `cross_check` covers them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from alerts.model import ChannelKind
from gateway.core.problems import Problem
from gateway.core.ranges import check_ordered
from gateway.core.validation import E164, HTTP_URL

MESSAGE_CHANNELS = (
    ChannelKind.WECOM_ROBOT,
    ChannelKind.WECOM_APP,
    ChannelKind.WECHAT_OA,
    ChannelKind.SMS,
    ChannelKind.CONSOLE,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Person(_Model):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    name: Annotated[str, Field(min_length=1)]
    phone: Annotated[str, Field(pattern=E164, description="E.164, e.g. +8613800001111")]
    wecom_userid: Annotated[str, Field(min_length=1)] | None = None
    wechat_openid: Annotated[str, Field(min_length=1)] | None = None

    def reachable_by(self, kind: ChannelKind) -> bool:
        if kind is ChannelKind.WECOM_APP:
            return self.wecom_userid is not None
        if kind is ChannelKind.WECHAT_OA:
            return self.wechat_openid is not None
        return True


class Tier(_Model):
    people: list[str] = []
    channels: Annotated[
        list[ChannelKind] | None,
        Field(description="unset: every configured message channel (tier 3 adds voice)"),
    ] = None


class Tiers(_Model):
    tier1: Tier
    tier2: Tier = Tier()
    tier3: Tier = Tier()

    def by_number(self) -> dict[int, Tier]:
        return {1: self.tier1, 2: self.tier2, 3: self.tier3}


class WecomRobotSettings(_Model):
    key: SecretStr
    base_url: Annotated[str, Field(pattern=HTTP_URL)] = "https://qyapi.weixin.qq.com"
    msgtype: Literal["text", "markdown"] = "text"


class WecomAppSettings(_Model):
    corp_id: Annotated[str, Field(min_length=1)]
    corp_secret: SecretStr
    agent_id: Annotated[int, Field(ge=1)]
    base_url: Annotated[str, Field(pattern=HTTP_URL)] = "https://qyapi.weixin.qq.com"


class WechatOaSettings(_Model):
    app_id: Annotated[str, Field(pattern=r"^wx[0-9a-f]{16}$")]
    app_secret: SecretStr
    template_id: Annotated[str, Field(min_length=1)]
    base_url: Annotated[str, Field(pattern=HTTP_URL)] = "https://api.weixin.qq.com"
    fields: Annotated[
        dict[str, Literal["title", "place", "condition", "since", "tier", "action"]],
        Field(description="template keyword -> message part, as the template was registered"),
    ] = {
        "first": "title",
        "keyword1": "place",
        "keyword2": "condition",
        "keyword3": "since",
        "remark": "action",
    }


class TwilioSettings(_Model):
    account_sid: Annotated[str, Field(pattern=r"^AC[0-9a-f]{32}$")]
    auth_token: SecretStr
    from_number: Annotated[str, Field(pattern=E164)]
    base_url: Annotated[str, Field(pattern=HTTP_URL)] | None = None
    sms: bool = True
    voice: bool = True


class ChannelSettings(_Model):
    wecom_robot: WecomRobotSettings | None = None
    wecom_app: WecomAppSettings | None = None
    wechat_oa: WechatOaSettings | None = None
    twilio: TwilioSettings | None = None
    console: bool = True
    console_only: Annotated[
        bool, Field(description="true: notifications go to the log only (demo, bench)")
    ] = False

    @model_validator(mode="after")
    def _console_only_alone(self) -> ChannelSettings:
        if self.console_only and self.configured() != {ChannelKind.CONSOLE}:
            raise ValueError(
                "console_only = true needs console = true and no other channel (fix: remove "
                "console_only, or the other [alerts.channels.*] sections)"
            )
        return self

    def configured(self) -> set[ChannelKind]:
        kinds = {
            kind
            for kind, section in (
                (ChannelKind.WECOM_ROBOT, self.wecom_robot),
                (ChannelKind.WECOM_APP, self.wecom_app),
                (ChannelKind.WECHAT_OA, self.wechat_oa),
            )
            if section is not None
        }
        if self.twilio is not None and self.twilio.sms:
            kinds.add(ChannelKind.SMS)
        if self.twilio is not None and self.twilio.voice:
            kinds.add(ChannelKind.VOICE)
        if self.console:
            kinds.add(ChannelKind.CONSOLE)
        return kinds


class EscalationSettings(_Model):
    """Defaults follow the three-tier scheme: tier 2 at +30 min, tier 3 at +60 min."""

    tier2_after_s: Annotated[float, Field(gt=0)] = 1800.0
    tier3_after_s: Annotated[float, Field(gt=0)] = 3600.0
    repeat_every_s: Annotated[float, Field(ge=60)] = 900.0
    on_site_s: Annotated[
        float,
        Field(
            gt=0,
            description="an acknowledgement pauses its person's reminders this long; if the "
            "condition still holds after it, they are reminded again",
        ),
    ] = 1800.0

    @model_validator(mode="after")
    def _ordered(self) -> EscalationSettings:
        if self.tier3_after_s <= self.tier2_after_s:
            raise ValueError(
                f"tier3_after_s ({self.tier3_after_s}) must be later than tier2_after_s "
                f"({self.tier2_after_s}) (fix: raise tier3_after_s)"
            )
        return self


class RuleThresholds(_Model):
    """Hold-off and clear times of the rules; see `alerts.rules` for why these defaults."""

    too_warm_hold_off_s: Annotated[float, Field(ge=0)] = 900.0
    too_cold_hold_off_s: Annotated[float, Field(ge=0)] = 900.0
    freezing_c: float = 0.0
    freezing_hold_off_s: Annotated[float, Field(ge=0)] = 120.0
    clear_after_s: Annotated[float, Field(ge=0)] = 300.0
    hysteresis_c: Annotated[float, Field(ge=0, le=2)] = 0.3
    offline_after_polls: Annotated[int, Field(ge=1)] = 3
    fault_after_readings: Annotated[int, Field(ge=1)] = 3
    battery_low_pct: Annotated[float, Field(ge=0, le=100)] = 20.0
    battery_clear_pct: Annotated[float, Field(ge=0, le=100)] = 25.0
    power_gap_s: Annotated[float, Field(gt=0)] = 300.0
    who_heat_c: float = 8.0
    who_heat_s: Annotated[float, Field(gt=0)] = 36_000.0
    who_freeze_c: float = -0.5
    who_freeze_s: Annotated[float, Field(gt=0)] = 3600.0

    @model_validator(mode="after")
    def _who_ordered(self) -> RuleThresholds:
        check_ordered(self, "who_freeze_c", "who_heat_c", strict=True)
        return self

    @model_validator(mode="after")
    def _battery_hysteresis(self) -> RuleThresholds:
        if self.battery_clear_pct < self.battery_low_pct:
            raise ValueError(
                f"battery_clear_pct ({self.battery_clear_pct}) is below battery_low_pct "
                f"({self.battery_low_pct}) (fix: set it at or above battery_low_pct)"
            )
        return self


class RuleSettings(_Model):
    defaults: RuleThresholds = RuleThresholds()
    compartments: Annotated[
        dict[str, dict[str, float]],
        Field(description="FRIDGE/COMPARTMENT -> thresholds that differ from the defaults"),
    ] = {}

    @model_validator(mode="after")
    def _overrides_valid(self) -> RuleSettings:
        for ref in self.compartments:
            try:
                self.thresholds_for(ref)
            except ValidationError as error:
                detail = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
                )
                raise ValueError(
                    f"compartments.{ref!r}: {detail} (fix: use keys and values as in defaults)"
                ) from None
        return self

    def thresholds_for(self, ref: str) -> RuleThresholds:
        override = self.compartments.get(ref)
        if not override:
            return self.defaults
        return RuleThresholds.model_validate(self.defaults.model_dump() | override)


class OutboxSettings(_Model):
    """Retry schedule of undelivered notifications (see `alerts.outbox`)."""

    first_retry_s: Annotated[float, Field(gt=0)] = 15.0
    max_retry_s: Annotated[float, Field(gt=0)] = 600.0
    jitter: Annotated[float, Field(ge=0, le=0.5)] = 0.2
    give_up_after_s: Annotated[float, Field(gt=0)] = 43_200.0

    @model_validator(mode="after")
    def _retry_ordered(self) -> OutboxSettings:
        check_ordered(self, "first_retry_s", "max_retry_s")
        return self


class SilenceSettings(_Model):
    """Bounds of a planned silence (defrost, stocktaking): it always ends, and says why."""

    max_s: Annotated[
        float, Field(gt=0, le=7 * 86_400, description="the longest silence that may be started")
    ] = 4 * 3600.0
    reason_max: Annotated[
        int, Field(ge=20, le=2000, description="the longest reason, in characters")
    ] = 200


# Secrets published with the project (the example and the demo configuration): anyone could
# forge acknowledgement links with them. `coldchain run` and `config check` refuse them; the
# demo makes its own secret at each start.
PUBLIC_SECRETS = frozenset(
    {
        "replace-with-32-or-more-random-characters",
        "demo-only-ack-link-secret-not-for-production",
    }
)
MIN_DISTINCT = 12  # characters: "aaaa…" or "12341234…" is long but guessable


def weak_secret(secret: str) -> str | None:
    """Why `secret` cannot sign acknowledgement links in a real gateway, or None."""
    fix = "fix: put 32 or more random characters there, e.g. from `openssl rand -base64 33`"
    if secret in PUBLIC_SECRETS:
        return f"[alerts.ack] secret is the published example's or the demo's; {fix}"
    if len(set(secret)) < MIN_DISTINCT:
        return f"[alerts.ack] secret has fewer than {MIN_DISTINCT} different characters; {fix}"
    return None


class AckLinkSettings(_Model):
    secret: Annotated[SecretStr, Field(min_length=32, description="HMAC key, 32+ characters")]
    base_url: Annotated[str, Field(pattern=HTTP_URL, description="the gateway's ack page")]
    lifetime_s: Annotated[float, Field(gt=0)] = 86_400.0


class AlertSettings(_Model):
    people: Annotated[list[Person], Field(min_length=1)]
    tiers: Tiers
    channels: ChannelSettings = ChannelSettings()
    escalation: EscalationSettings = EscalationSettings()
    rules: RuleSettings = RuleSettings()
    outbox: OutboxSettings = OutboxSettings()
    silences: SilenceSettings = SilenceSettings()
    ack: AckLinkSettings

    @model_validator(mode="after")
    def _cross_fields(self) -> AlertSettings:
        problems = list(self._problems())
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _problems(self) -> Iterable[str]:
        for person_id, count in Counter(p.id for p in self.people).items():
            if count > 1:
                yield f"people: id {person_id!r} is used {count} times (fix: one entry a person)"
        known = {p.id: p for p in self.people}
        configured = self.channels.configured()
        if not self.tiers.tier1.people:
            yield "tiers.tier1.people is empty (fix: name the vaccine manager(s) of the unit)"
        for number, tier in self.tiers.by_number().items():
            key = f"tiers.tier{number}"
            for kind in tier.channels or ():
                if kind not in configured:
                    yield (
                        f"{key}.channels: {kind} is not configured "
                        f"(fix: add [alerts.channels.{_section(kind)}] or remove {kind})"
                    )
            for person_id in tier.people:
                person = known.get(person_id)
                if person is None:
                    yield (
                        f"{key}.people: unknown person {person_id!r} (fix: declare it under "
                        f"[[alerts.people]] or use one of {', '.join(sorted(known))})"
                    )
                elif not self.channels.console_only and not any(
                    k is not ChannelKind.CONSOLE for k in self.channels_for(number, person)
                ):
                    yield (
                        f"{key}.people: {person_id!r} cannot be reached by any channel of tier "
                        f"{number} (fix: give the person a wecom_userid/wechat_openid, or "
                        "configure wecom_robot or twilio)"
                    )

    def person(self, person_id: str) -> Person:
        for person in self.people:
            if person.id == person_id:
                return person
        raise KeyError(person_id)

    def tier_people(self, tier: int) -> tuple[str, ...]:
        return tuple(self.tiers.by_number()[tier].people)

    def channels_for(self, tier: int, person: Person) -> tuple[ChannelKind, ...]:
        """The channels used to notify this person at this tier, in order of preference."""
        chosen = self.tiers.by_number()[tier].channels
        if chosen is None:
            chosen = [*MESSAGE_CHANNELS, *([ChannelKind.VOICE] if tier == 3 else [])]
        configured = self.channels.configured()
        return tuple(k for k in chosen if k in configured and person.reachable_by(k))


def _section(kind: ChannelKind) -> str:
    return "twilio" if kind in (ChannelKind.SMS, ChannelKind.VOICE) else str(kind)


def cross_check(alerts: AlertSettings, compartment_refs: Iterable[str]) -> list[Problem]:
    """Problems that need the whole configuration: rule overrides for unknown compartments."""
    refs = sorted(compartment_refs)
    return [
        Problem(
            f"alerts.rules.compartments.{ref!r}",
            f"{ref!r} is not a compartment",
            f"use one of {', '.join(refs) or '(none: declare [[fridges]] first)'}",
        )
        for ref in alerts.rules.compartments
        if ref not in refs
    ]
