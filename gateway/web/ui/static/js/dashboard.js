// Dashboard: every compartment, its temperature against its range, and the last 24 h; an open
// alarm of a compartment on its card (tier reached, who is on site, how long, current and peak,
// the doses held). Values are pushed by the gateway (live); the sparklines redraw once a minute.

import { sparkline, seriesPoints } from "./chart.js";
import { api, available, el, formatRange, formatTemp, formatTime, holdsBanner, live, notice, personName, start, t, tierReached } from "./core.js";

const SPARK_MS = 60000;

function fridgeHref(ref) {
  return `/fridges/${ref.split("/").map(encodeURIComponent).join("/")}`;
}

function card(item) {
  const node = el(
    "a",
    { class: `card status-${item.status}`, href: fridgeHref(item.ref), "data-ref": item.ref },
    el("div", { class: "card-head" }, el("span", { class: "fridge" }, item.fridge_name), el("span", { class: "compartment" }, item.compartment)),
    el("div", { class: "temp" }),
    el("div", { class: "state" }),
    el("div", { class: "meta" }, el("span", { class: "range" }), el("span", { class: "taken" })),
    el("div", { class: "card-alarm", hidden: true }),
    el("div", { class: "spark" }),
  );
  return node;
}

function minutesSince(iso) {
  return Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 60000));
}

// The open alarm of a compartment, and what it holds, in a few lines on its card.
function drawAlarm(node, alarm, people, hold) {
  const box = node.querySelector(".card-alarm");
  box.hidden = !alarm;
  if (!alarm) return box.replaceChildren();
  const peakKey = alarm.kind === "too_cold" ? "alarm.trough_short" : "alarm.peak_short";
  const acks = alarm.acks.map((ack) => personName(people, ack.person)).join("、");
  box.replaceChildren(
    el("div", { class: "alarm-kind" }, `${t(`alarm.kind.${alarm.kind}`)} · ${t("alarm.for_minutes", { minutes: minutesSince(alarm.since || alarm.opened_at) })}`),
    el("div", {}, t("alarm.tier_reached", { tier: tierReached(alarm) }), " · ", acks ? `${t("alarm.acked_by")}${acks}` : t("alarm.not_acked")),
    alarm.current
      ? el("div", {}, t("alarm.current", { temp: formatTemp(alarm.current.celsius), at: formatTime(alarm.current.at) }), alarm.peak ? ` · ${t(peakKey, { temp: formatTemp(alarm.peak.celsius) })}` : "")
      : null,
    hold ? el("div", { class: "held" }, t("alarm.held", { doses: hold.doses, units: hold.packages })) : null,
  );
}

function update(node, item) {
  node.className = `card status-${item.status}`;
  node.querySelector(".temp").textContent = formatTemp(item.temperature);
  node.querySelector(".state").textContent = t(`status.${item.status}`);
  node.querySelector(".range").textContent = formatRange(item.range);
  node.querySelector(".taken").textContent = `${t("dash.last_reading")} ${formatTime(item.taken_at, true)}`;
}

// The last 24 h of the gateway's clock; returns how many points were drawn.
async function drawSparkline(node, item) {
  const probe = item.probes[0]?.code;
  if (!probe) return 0;
  const body = await api(`/api/series?${new URLSearchParams({ probe, hours: "24", points: "96" })}`);
  const points = seriesPoints(body);
  node.querySelector(".spark").replaceChildren(sparkline(points, { min: item.range.min_c, max: item.range.max_c }));
  return points.length;
}

start(async (main) => {
  const grid = el("div", { class: "cards", id: "cards" });
  const summary = el("p", { class: "summary" });
  main.append(el("h1", {}, t("dash.title")), holdsBanner(), summary, grid);
  const cards = new Map();
  const drawn = new Map(); // ref -> points in its sparkline: too few to draw a line yet?
  let latest = [];
  const spark = (item) =>
    drawSparkline(cards.get(item.ref), item)
      .then((count) => drawn.set(item.ref, count))
      .catch((error) => notice(error, "error"));

  let alarms = { alarms: [], names: {} };
  let holds = new Map();
  const withHolds = await available("/api/ledger/holds").catch(() => false);
  const drawAlarms = () => {
    for (const [ref, node] of cards) {
      const alarm = alarms.alarms.find((one) => one.subject === ref && one.status !== "closed");
      drawAlarm(node, alarm, alarms.names, holds.get(ref));
    }
  };
  const refreshHolds = async () => {
    if (!withHolds) return;
    const body = await api("/api/ledger/holds");
    holds = new Map(body.holds.map((hold) => [hold.compartment, hold]));
  };
  const draw = (body) => {
    latest = body;
    for (const item of latest) {
      if (!cards.has(item.ref)) {
        const node = card(item);
        cards.set(item.ref, node);
        grid.appendChild(node);
        drawn.set(item.ref, 0);
      }
      update(cards.get(item.ref), item);
      if (drawn.get(item.ref) < 2) spark(item);
    }
    const bad = latest.filter((item) => item.status !== "in_range").length;
    summary.textContent = t("dash.summary", { total: latest.length, bad });
    summary.className = bad ? "summary warn" : "summary";
    drawAlarms();
  };
  // At once (a kept copy when the gateway is out of reach), then each pushed change.
  await api("/api/fridges").then(draw);
  live("fridges", draw);
  live("alarms", (body) => {
    alarms = body;
    refreshHolds()
      .catch((error) => notice(error, "error"))
      .finally(drawAlarms);
  });
  setInterval(() => {
    for (const item of latest) spark(item);
  }, SPARK_MS);
});
