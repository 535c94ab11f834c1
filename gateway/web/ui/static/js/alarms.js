// Alarms: open ones first, each with its escalation timeline (who was notified when, by which
// channel, with what outcome); acknowledge, close with cause and action; silences; history.

import { api, available, el, errorNode, form, formatTemp, formatTime, live, may, notice, personName, section, session, start, t, table } from "./core.js";

// The log shows its last entries; the rest on request (it grows by the hour in a long alarm).
const LOG_LAST = 5;
const phone = window.matchMedia("(max-width: 600px)");
let people = {};

function timeline(alarm) {
  // A tier's notice names whom it told by id: shown by their names, the tier in words.
  const steps = alarm.timeline.map((step) => ({
    at: step.at,
    who: step.told ? step.told.map((id) => personName(people, id)).join("、") : step.who ? personName(people, step.who) : "—",
    channel: "—",
    what: t(`alarm.step.${step.kind}`),
    detail: step.told ? t("alarm.tier", { tier: step.tier }) : step.detail ?? "",
  }));
  for (const note of alarm.notifications) {
    const tries = note.attempt_log.length ? note.attempt_log : [{ at: note.created_at, outcome: note.state, detail: note.detail }];
    for (const attempt of tries) {
      steps.push({
        at: attempt.at,
        who: `${personName(people, note.person)} (${t("alarm.tier", { tier: note.tier })})`,
        channel: t(`channel.${note.channel}`),
        what: t(`alarm.outcome.${attempt.outcome}`),
        detail: attempt.detail ?? "",
      });
    }
  }
  steps.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const columns = [
    { label: "alarm.col.at", value: (row) => formatTime(row.at, true) },
    { label: "alarm.col.who", value: (row) => row.who },
    { label: "alarm.col.channel", value: (row) => row.channel },
    { label: "alarm.col.what", value: (row) => row.what },
    { label: "alarm.col.detail", value: (row) => row.detail },
  ];
  if (steps.length <= LOG_LAST) return table(columns, steps);
  const holder = el("div", {}, el("p", { class: "muted" }, t("alarm.log_last", { shown: LOG_LAST, total: steps.length })), table(columns, steps.slice(-LOG_LAST)));
  holder.append(
    el("button", { type: "button", class: "all", on: { click: () => holder.replaceChildren(table(columns, steps)) } }, t("alarm.log_all", { total: steps.length })),
  );
  return holder;
}

// What the excursion exposed: time out of range, peak, and the stock in the compartment then.
// Fetched when opened (the ledger's excursion service may be absent: then not shown at all).
function impactPanel(alarm) {
  const holder = el("div", {}, t("common.loading"));
  const node = el("details", { class: "impact" }, el("summary", {}, t("impact.title")), holder);
  node.addEventListener("toggle", async () => {
    if (!node.open) return;
    const query = new URLSearchParams({
      compartment: alarm.subject,
      start: alarm.since || alarm.opened_at,
      // "Now" is the gateway's last measurement, never the phone's clock.
      end: alarm.cleared_at || alarm.current?.at || alarm.opened_at,
    });
    try {
      const body = await api(`/api/ledger/excursions/impact?${query}`);
      const exposure = body.exposure;
      holder.replaceChildren(
        el(
          "p",
          {},
          t("impact.summary", {
            above: exposure.minutes_above,
            below: exposure.minutes_below,
            peak: formatTemp(exposure.peak_c),
            trough: formatTemp(exposure.trough_c),
          }),
        ),
        table(
          [
            { label: "impact.code", value: (row) => row.code },
            { label: "impact.product", value: (row) => row.product_id },
            { label: "impact.batch", value: (row) => row.batch_no },
            { label: "impact.doses", value: (row) => String(row.doses_left) },
          ],
          body.units,
          "impact.no_stock",
        ),
      );
    } catch (error) {
      holder.replaceChildren(errorNode(error, "p"));
    }
  });
  return node;
}

function actions(alarm, refresh) {
  if (alarm.status === "closed") return null;
  const parts = [];
  // An acknowledgement pauses its person's reminders for the on-site time; after it, they may
  // acknowledge again.
  const acked = alarm.acks.some(
    (ack) => ack.person === session.person && (!ack.on_site_until || Date.parse(ack.on_site_until) > Date.now()),
  );
  if (may("alarm_ack") || may("alarm_close")) {
    if (!session.person) return el("p", { class: "muted" }, t("alarm.no_person"));
  }
  if (may("alarm_ack") && !acked) {
    parts.push(
      el(
        "button",
        {
          type: "button",
          class: "primary ack",
          on: {
            click: async (event) => {
              event.target.disabled = true;
              try {
                await api(`/api/alarms/${encodeURIComponent(alarm.id)}/ack`, { method: "POST", body: { person: session.person, how: "web" } });
                await refresh();
              } catch (error) {
                event.target.disabled = false;
                event.target.after(errorNode(error));
              }
            },
          },
        },
        t("alarm.ack"),
      ),
    );
  }
  if (may("alarm_close")) {
    parts.push(
      el(
        "details",
        { class: "close" },
        el("summary", {}, t("alarm.close")),
        form(
          [
            { name: "cause", label: "alarm.cause", required: true },
            { name: "action", label: "alarm.action", required: true },
          ],
          async (values) => {
            await api(`/api/alarms/${encodeURIComponent(alarm.id)}/close`, { method: "POST", body: { person: session.person, ...values } });
            await refresh();
            return t("alarm.closed");
          },
          { button: "alarm.close" },
        ),
      ),
    );
  }
  return el("div", { class: "actions" }, parts);
}

// The temperature now and the peak so far, each with when it was measured (temperature alarms).
function temperatures(alarm) {
  if (!alarm.current) return null;
  const parts = [t("alarm.current", { temp: formatTemp(alarm.current.celsius), at: formatTime(alarm.current.at) })];
  if (alarm.peak) {
    const key = alarm.kind === "too_cold" ? "alarm.trough" : "alarm.peak";
    parts.push(t(key, { temp: formatTemp(alarm.peak.celsius), at: formatTime(alarm.peak.at) }));
  }
  return el("p", { class: "temperatures" }, parts.join(" · "));
}

function alarmCard(alarm, refresh, withImpact) {
  const acks = alarm.acks.map((ack) => `${personName(people, ack.person)} ${formatTime(ack.at)}`).join("，");
  const open = alarm.status !== "closed";
  return el(
    "article",
    { class: `alarm alarm-${alarm.status}`, "data-alarm": alarm.id },
    el(
      "header",
      {},
      el("strong", {}, `#${alarm.no ?? "?"} ${alarm.place}`),
      el("span", { class: "badge" }, t(`alarm.status.${alarm.status}`)),
    ),
    // What to do first: on a phone the buttons must not sit below a long log.
    open ? actions(alarm, refresh) : null,
    el("p", {}, alarm.description),
    temperatures(alarm),
    el(
      "p",
      { class: "meta" },
      `${t("alarm.since")} ${formatTime(alarm.since)}`,
      alarm.cleared_at ? ` · ${t("alarm.cleared")} ${formatTime(alarm.cleared_at)}` : "",
      acks ? ` · ${t("alarm.acked_by")} ${acks}` : "",
    ),
    alarm.disposition ? el("p", { class: "meta" }, `${t("alarm.disposition")}: ${alarm.disposition}`) : null,
    el("details", { class: "timeline", open: open && !phone.matches }, el("summary", {}, t("alarm.timeline")), timeline(alarm)),
    withImpact && alarm.subject.includes("/") ? impactPanel(alarm) : null,
  );
}

// End a running silence before its time (the server checks who may end which).
function endButton(silence, refresh) {
  return el(
    "button",
    {
      type: "button",
      class: "end-silence",
      on: {
        click: async (event) => {
          event.target.disabled = true;
          try {
            await api(`/api/silences/${silence.no}/end`, { method: "POST", body: {} });
            await refresh();
          } catch (error) {
            event.target.disabled = false;
            event.target.after(errorNode(error));
          }
        },
      },
    },
    t("silence.end"),
  );
}

function silenceForm(refresh) {
  return form(
    [
      { name: "why", label: "silence.why", required: true },
      { name: "hours", label: "silence.hours", type: "number", min: 0.25, max: 4, step: 0.25, value: 2, required: true },
      { name: "scope", label: "silence.scope" },
    ],
    async (values) => {
      const until = new Date(Date.now() + values.hours * 3600 * 1000).toISOString();
      await api("/api/silences", { method: "POST", body: { who: session.person || session.user, why: values.why, until, scope: values.scope || null } });
      await refresh();
      return t("silence.done", { until: formatTime(until) });
    },
    { button: "silence.submit" },
  );
}

start(async (main) => {
  const open = el("div", { class: "alarms", id: "open-alarms" });
  const history = el("div", { class: "alarms", id: "history" });
  const silences = el("div", { id: "silences" });
  let shown = "";
  const withImpact = await available("/api/ledger/quarantine");
  const refresh = async () => {
    // Redrawing would wipe what someone is typing into a close or silence form.
    if (main.contains(document.activeElement) && document.activeElement.matches("input, textarea, select")) return;
    const body = await api("/api/alarms?recent=50");
    people = body.names ?? {};
    const seen = JSON.stringify(body);
    if (seen === shown) return;
    shown = seen;
    const key = (details) => `${details.closest("article").dataset.alarm}|${details.className}`;
    const opened = new Set(Array.from(main.querySelectorAll("article[data-alarm] details[open]"), key));
    const current = body.alarms.filter((alarm) => alarm.status !== "closed");
    const closed = body.alarms.filter((alarm) => alarm.status === "closed");
    open.replaceChildren(...(current.length ? current.map((alarm) => alarmCard(alarm, refresh, withImpact)) : [el("p", { class: "muted" }, t("alarm.none_open"))]));
    history.replaceChildren(...(closed.length ? closed.map((alarm) => alarmCard(alarm, refresh, withImpact)) : [el("p", { class: "muted" }, t("common.none"))]));
    for (const details of main.querySelectorAll("article[data-alarm] details")) {
      if (opened.has(key(details))) details.open = true;
    }
    silences.replaceChildren(
      table(
        [
          { label: "silence.who", value: (row) => personName(people, row.who) },
          { label: "silence.why", value: (row) => row.why },
          { label: "silence.until", value: (row) => formatTime(row.until) },
          { label: "silence.scope", value: (row) => row.scope ?? t("silence.all") },
          { label: "silence.end", value: (row) => (may("alarm_silence") ? endButton(row, refresh) : null) },
        ],
        body.silences,
      ),
    );
  };
  main.append(
    el("h1", {}, t("nav.alarms")),
    section("alarm.open", open),
    section("silence.title", silences, may("alarm_silence") ? el("details", {}, el("summary", {}, t("silence.submit")), silenceForm(refresh)) : null),
    section("alarm.history", history),
  );
  await refresh();
  // The gateway pushes each change of the open alarms; the page then reads the whole list.
  live("alarms", () => refresh().catch((error) => notice(error, "error")));
});
