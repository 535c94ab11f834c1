// Dashboard: every compartment, its temperature against its range, and the last 24 h.
// Values refresh every few seconds from /api/fridges; the sparklines once a minute.

import { sparkline, seriesPoints } from "./chart.js";
import { api, el, every, formatRange, formatTemp, formatTime, holdsBanner, notice, start, t } from "./core.js";

const REFRESH_MS = 3000;
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
    el("div", { class: "spark" }),
  );
  return node;
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
      .catch((error) => notice(error.message, "error"));

  every(REFRESH_MS, async () => {
    latest = await api("/api/fridges");
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
  });
  setInterval(() => {
    for (const item of latest) spark(item);
  }, SPARK_MS);
});
