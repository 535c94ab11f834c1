// One compartment: its chart over 24 h / 7 d / 30 d with the allowed band, the alarms' spans
// shaded as excursions, and the twice-daily thermometer readings marked.

import { seriesPoints, temperatureChart } from "./chart.js";
import { api, available, clinicDay, el, formatRange, formatTemp, formatTime, holdsBanner, notice, start, t } from "./core.js";

const HOURS = { "24h": 24, "7d": 7 * 24, "30d": 30 * 24 };
const POINTS = 360;

const ref = location.pathname.slice("/fridges/".length).split("/").map(decodeURIComponent).join("/");

async function excursions(item, since) {
  if (!(await available("/api/alarms?recent=0"))) return [];
  const body = await api("/api/alarms?recent=200");
  const probes = new Set(item.probes.map((probe) => probe.code));
  return body.alarms
    .filter((alarm) => alarm.subject === ref || probes.has(alarm.probe))
    .map((alarm) => ({
      from: Date.parse(alarm.since || alarm.opened_at),
      to: alarm.cleared_at ? Date.parse(alarm.cleared_at) : null,
      label: `${alarm.description} (${formatTime(alarm.since)})`,
    }))
    .filter((span) => span.to === null || span.to >= since);
}

// The months (YYYY-MM, clinic time) that `since..until` touches.
function months(since, until) {
  const found = new Set();
  for (let t = since; t <= until; t += 24 * 3600 * 1000) found.add(clinicDay(new Date(t)).slice(0, 7));
  found.add(clinicDay(new Date(until)).slice(0, 7));
  return [...found];
}

async function manualMarks(since, until) {
  if (!(await available(`/api/manual-readings/missing`))) return [];
  const rows = [];
  for (const month of months(since, until)) {
    const body = await api(`/api/manual-readings?${new URLSearchParams({ month, compartment: ref })}`);
    rows.push(...body.manual_readings);
  }
  return rows
    .map((row) => ({
      t: Date.parse(row.taken_at),
      value: row.temperature,
      label: `${t("fridge.manual")} ${formatTemp(row.temperature)} ${formatTime(row.taken_at)} ${row.recorder_name}`,
    }))
    .filter((mark) => mark.t >= since && mark.t <= until);
}

// The span ends at the gateway's now (its clock, not the browser's): the first series answer
// says where, and the alarms and manual readings are fetched for the same span.
async function draw(holder, item, span) {
  const band = { min: item.range.min_c, max: item.range.max_c };
  const answers = [];
  for (const probe of item.probes) {
    const query = new URLSearchParams({ probe: probe.code, hours: String(HOURS[span]), points: String(POINTS) });
    answers.push([probe, await api(`/api/series?${query}`)]);
  }
  if (!answers.length) {
    holder.replaceChildren(el("p", { class: "muted" }, t("fridge.no_probe")));
    return;
  }
  const since = Date.parse(answers[0][1].since);
  const until = Date.parse(answers[0][1].until);
  const [spans, marks] = await Promise.all([excursions(item, since), manualMarks(since, until)]);
  const charts = answers.flatMap(([probe, body]) => [
    el("h2", {}, t("fridge.probe", { code: probe.code })),
    temperatureChart({
      points: seriesPoints(body),
      since,
      until,
      band,
      bucketMs: body.bucket_s * 1000,
      excursions: spans,
      marks,
      format: (ms) => formatTime(new Date(ms).toISOString()),
      width: holder.clientWidth,
      title: `${item.fridge_name} ${item.compartment} ${probe.code}`,
    }),
  ]);
  holder.replaceChildren(...charts, legend());
}

function legend() {
  return el(
    "p",
    { class: "legend" },
    el("span", { class: "key band" }), t("fridge.band"), " ",
    el("span", { class: "key mean" }), t("fridge.mean"), " ",
    el("span", { class: "key excursion" }), t("fridge.excursion"), " ",
    el("span", { class: "key manual" }), t("fridge.manual"),
  );
}

start(async (main) => {
  const all = await api("/api/fridges");
  const item = all.find((entry) => entry.ref === ref);
  if (!item) throw new Error(t("fridge.unknown", { ref }));
  const holder = el("div", { class: "charts" });
  const buttons = Object.keys(HOURS).map((span) =>
    el("button", { type: "button", "data-span": span, on: { click: () => pick(span) } }, t(`fridge.span_${span}`)),
  );
  const pick = (span) => {
    for (const button of buttons) button.classList.toggle("on", button.dataset.span === span);
    draw(holder, item, span).catch((error) => notice(error, "error"));
  };
  main.append(
    el("p", {}, el("a", { href: "/" }, t("fridge.back"))),
    el("h1", {}, `${item.fridge_name} · ${item.compartment}`),
    holdsBanner(),
    el(
      "p",
      { class: `summary status-${item.status}` },
      `${formatTemp(item.temperature)} · ${t(`status.${item.status}`)} · ${t("fridge.range")} ${formatRange(item.range)} · ${formatTime(item.taken_at, true)}`,
    ),
    el("div", { class: "spans" }, buttons),
    holder,
  );
  pick("24h");
});
