// Temperature charts as inline SVG: the allowed band, the min–max envelope of each bucket,
// the mean line, shaded excursions and marked manual readings. No library: a few hundred
// points per chart come from /api/series already downsampled.

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function niceStep(span, ticks) {
  const raw = span / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const steps = [1, 2, 5, 10].map((factor) => factor * power);
  return steps.find((step) => step >= raw) ?? steps[steps.length - 1];
}

function valueRange(points, band, marks) {
  const values = points.flatMap((p) => [p.min, p.max]);
  for (const edge of [band?.min, band?.max]) if (edge !== null && edge !== undefined) values.push(edge);
  for (const mark of marks) values.push(mark.value);
  if (!values.length) return [0, 10];
  let low = Math.min(...values);
  let high = Math.max(...values);
  const pad = Math.max((high - low) * 0.08, 0.5);
  low -= pad;
  high += pad;
  return [low, high];
}

// A line over the buckets' means with gaps where no bucket exists (no readings); a bucket
// with no neighbour on either side is returned apart, to be drawn as a dot.
function meanPath(points, x, y, gapMs) {
  let path = "";
  const alone = [];
  points.forEach((point, i) => {
    const joinsBefore = i > 0 && point.t - points[i - 1].t <= gapMs;
    const joinsAfter = i + 1 < points.length && points[i + 1].t - point.t <= gapMs;
    if (!joinsBefore && !joinsAfter) alone.push(point);
    path += `${joinsBefore ? "L" : "M"}${x(point.t).toFixed(1)},${y(point.mean).toFixed(1)}`;
  });
  return { path, alone };
}

function envelope(points, x, y) {
  if (points.length < 2) return "";
  const top = points.map((p) => `${x(p.t).toFixed(1)},${y(p.max).toFixed(1)}`);
  const bottom = points.map((p) => `${x(p.t).toFixed(1)},${y(p.min).toFixed(1)}`).reverse();
  return `M${top.join("L")}L${bottom.join("L")}Z`;
}

// options: {points: [{t: ms, min, max, mean}], since: ms, until: ms, band: {min, max},
//           bucketMs, excursions: [{from: ms, to: ms, label}], marks: [{t: ms, value, label}],
//           format: (ms) => string, width (the holder's pixels), height, title}
export function temperatureChart(options) {
  const { points, since, until, band = {}, excursions = [], marks = [], format } = options;
  const width = Math.max(300, Math.round(options.width ?? 800));
  const height = options.height ?? (width < 500 ? 220 : 280);
  const margin = { left: 44, right: 12, top: 12, bottom: 26 };
  const [low, high] = valueRange(points, band, marks);
  const x = (t) => margin.left + ((t - since) / (until - since)) * (width - margin.left - margin.right);
  const y = (v) => margin.top + ((high - v) / (high - low)) * (height - margin.top - margin.bottom);
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "chart",
    role: "img",
  });
  if (options.title) root.appendChild(svg("title", {}, options.title));

  const bandLow = band.min ?? low;
  const bandHigh = band.max ?? high;
  root.appendChild(
    svg("rect", {
      class: "band",
      x: margin.left,
      y: y(Math.min(bandHigh, high)),
      width: width - margin.left - margin.right,
      height: Math.max(0, y(Math.max(bandLow, low)) - y(Math.min(bandHigh, high))),
    }),
  );
  for (const span of excursions) {
    const from = Math.max(span.from, since);
    const to = Math.min(span.to ?? until, until);
    if (to <= from) continue;
    const shade = svg("rect", {
      class: "excursion",
      x: x(from),
      y: margin.top,
      width: Math.max(2, x(to) - x(from)),
      height: height - margin.top - margin.bottom,
    });
    shade.appendChild(svg("title", {}, span.label));
    root.appendChild(shade);
  }

  const step = niceStep(high - low, 5);
  for (let v = Math.ceil(low / step) * step; v <= high; v += step) {
    root.appendChild(svg("line", { class: "grid", x1: margin.left, x2: width - margin.right, y1: y(v), y2: y(v) }));
    root.appendChild(svg("text", { class: "tick", x: margin.left - 4, y: y(v) + 4, "text-anchor": "end" }, Number(v.toFixed(1))));
  }
  for (let i = 0; i <= 4; i += 1) {
    const t = since + ((until - since) * i) / 4;
    const anchor = i === 0 ? "start" : i === 4 ? "end" : "middle";
    root.appendChild(svg("text", { class: "tick", x: x(t), y: height - 8, "text-anchor": anchor }, format(t)));
  }

  root.appendChild(svg("path", { class: "envelope", d: envelope(points, x, y) }));
  const mean = meanPath(points, x, y, (options.bucketMs ?? 60000) * 3);
  root.appendChild(svg("path", { class: "mean", d: mean.path }));
  for (const point of mean.alone) {
    root.appendChild(svg("circle", { class: "mean dot", cx: x(point.t), cy: y(point.mean), r: 2.5 }));
  }
  for (const mark of marks) {
    const dot = svg("circle", { class: "manual", cx: x(mark.t), cy: y(mark.value), r: 5 });
    dot.appendChild(svg("title", {}, mark.label));
    root.appendChild(dot);
  }
  return root;
}

// A small line for a dashboard card: means only, the band as a light strip.
export function sparkline(points, band = {}) {
  const width = 200;
  const height = 40;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "sparkline", preserveAspectRatio: "none", "aria-hidden": "true" });
  if (!points.length) return root;
  const [low, high] = valueRange(points, band, []);
  const first = points[0].t;
  const last = points[points.length - 1].t;
  const x = (t) => ((t - first) / Math.max(1, last - first)) * width;
  const y = (v) => 2 + ((high - v) / (high - low)) * (height - 4);
  const top = y(Math.min(band.max ?? high, high));
  const bottom = y(Math.max(band.min ?? low, low));
  root.appendChild(svg("rect", { class: "band", x: 0, y: top, width, height: Math.max(0, bottom - top) }));
  if (points.length === 1) {
    root.appendChild(svg("circle", { class: "mean", cx: width - 3, cy: y(points[0].mean), r: 3 }));
    return root;
  }
  const d = points.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.mean).toFixed(1)}`).join("");
  root.appendChild(svg("path", { class: "mean", d }));
  return root;
}

// /api/series points with their times as milliseconds.
export function seriesPoints(body) {
  return body.points.map((p) => ({ t: Date.parse(p.t), min: p.min, max: p.max, mean: p.mean }));
}
