// What every screen shares: the signed-in user, translations, safe element building, the
// JSON API with the CSRF header, time and temperature formats, forms and tables.
// Text from the server only ever reaches the page through textContent or setAttribute.

const LANG_KEY = "coldchain_lang";
const LANGS = ["zh", "en"];
const TIME_ZONE = "Asia/Shanghai";

const data = document.body.dataset;
export const session = {
  user: data.user,
  display: data.display,
  person: data.person || null,
  roles: JSON.parse(data.roles || "[]"),
  actions: new Set(JSON.parse(data.actions || "[]")),
  nav: JSON.parse(data.nav || "[]"),
  unit: data.unit,
  gateway: data.gateway,
};

export function may(action) {
  return session.actions.has(action);
}

export const lang = LANGS.includes(localStorage.getItem(LANG_KEY))
  ? localStorage.getItem(LANG_KEY)
  : "zh";
let strings = {};

export function t(key, vars = {}) {
  const text = strings[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

// el("a", {href: "/x", class: "y", on: {click: f}}, "text", child, [more]) -> Element
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "on") {
      for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    } else if (name === "text") {
      node.textContent = String(value);
    } else if (name === "href" && !String(value).startsWith("/")) {
      throw new Error(`refusing a link outside this gateway: ${value}`);
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

// The sign-in page, in the language chosen here, coming back to `next` afterwards.
function loginUrl(next) {
  return `/login?${new URLSearchParams({ next, lang })}`;
}

// A refused or failed call: `code` names its kind (status 0, code "offline": no answer at all),
// `field` the field of the form the refusal is about, `problems` each field's own problem
// ({field, message}) when a refusal lists several.
export class ApiError extends Error {
  constructor(status, message, code = null, field = null, detail = null, problems = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
    this.detail = detail;
    this.problems = problems;
  }
}

// A field by its label ("批号" for batch_no); its own name when the pages have no label.
function fieldLabel(name) {
  if (!name) return "";
  const label = t(`field.${name}`);
  return label.startsWith("field.") ? name : label;
}

// The values of a refusal's params in words: an enumerated value (a package's state, what was
// scanned) by its translation, `value.<param>.<value>`; any other value as sent (the server
// already names compartments and people by their names).
function paramWords(params) {
  const shown = {};
  for (const [name, value] of Object.entries(params || {})) {
    const key = `value.${name}.${value}`;
    shown[name] = key in strings ? strings[key] : value;
  }
  return shown;
}

// The page's words for one code with its params, or null when the pages have none for it.
function codeText(code, params, field) {
  if (!code || !(`error.${code}` in strings)) return null;
  return t(`error.${code}`, { ...paramWords(params), field: fieldLabel(field) });
}

// Why something is refused or held, given as {code, params, reason} outside a refusal (a
// package in quarantine): the page's words, and the server's English apart.
export function reasonNode(code, params, reason) {
  const text = codeText(code, params, null);
  if (text === null) return el("span", {}, reason);
  return el("span", {}, text, " ", el("small", { class: "detail", lang: "en" }, reason));
}

// A refusal {error, code, field, reason, params, problems}: the page's own words for its code
// (its field named by the field's label), and, apart, the server's own sentence, which names
// the thing in detail (English). A refusal of several field problems (a record's validation)
// names each one by its own code.
function refusalText(payload) {
  if (typeof payload !== "object" || payload === null) {
    return { text: String(payload || ""), detail: null, problems: [] };
  }
  // A refusal listing its reasons (a refused configuration change) shows every one.
  const reasons = Array.isArray(payload.params?.reasons) ? payload.params.reasons : [];
  const own = reasons.length > 1 ? reasons.join("; ") : (payload.error ?? payload.reason ?? "");
  const listed = Array.isArray(payload.problems) ? payload.problems : [];
  const problems = listed
    .filter((item) => item.field)
    .map((item) => ({
      field: item.field,
      message: codeText(item.code ?? payload.code, item.params ?? {}, item.field) ?? item.reason,
    }));
  const text = listed.length > 1 && problems.length === listed.length
    ? problems.map((item) => item.message).join(lang === "zh" ? "；" : "; ")
    : codeText(payload.code, payload.params, payload.field);
  if (text === null) return { text: own, detail: null, problems };
  return { text, detail: own && own !== text ? own : null, problems };
}

// An error for the page: the translated text and, smaller, the server's detail.
export function errorNode(error, tag = "span") {
  return el(
    tag,
    { class: "error" },
    error.message,
    error.detail ? el("small", { class: "detail", lang: "en" }, error.detail) : null,
  );
}

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

// The JSON API: GET by default; a body is sent as JSON with the CSRF token of the session.
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["X-CSRF-Token"] = cookie("coldchain_csrf");
    if (body !== undefined) headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, t("common.offline"), "offline");
  }
  // A copy the service worker kept while the gateway is out of reach: shown with its age.
  const savedAt = response.headers.get("X-Coldchain-Saved-At");
  if (savedAt) staleSince(Date.parse(savedAt));
  if (response.status === 401) {
    location.assign(loginUrl(location.pathname));
    throw new ApiError(401, t("common.signed_out"));
  }
  const type = response.headers.get("Content-Type") || "";
  const payload = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const known = typeof payload === "object" && payload !== null;
    const { text, detail, problems } = refusalText(payload);
    throw new ApiError(
      response.status,
      text || response.statusText,
      known ? (payload.code ?? null) : null,
      known ? (payload.field ?? null) : null,
      detail,
      problems,
    );
  }
  return payload;
}

// Whether an API answers at all (404 = that part of the gateway is not installed).
export async function available(path) {
  try {
    await api(path);
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return false;
    throw error;
  }
}

export function formatTime(iso, withSeconds = false) {
  if (!iso) return "—";
  const moment = new Date(iso);
  return new Intl.DateTimeFormat(lang === "zh" ? "zh-CN" : "en-GB", {
    timeZone: TIME_ZONE,
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: withSeconds ? "2-digit" : undefined,
    hour12: false,
  }).format(moment);
}

// Today's date (YYYY-MM-DD) and this month (YYYY-MM) at the clinic.
export function clinicDay(moment = new Date()) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: TIME_ZONE }).format(moment);
}

export function formatTemp(value) {
  return value === null || value === undefined ? "—" : `${Number(value).toFixed(1)} °C`;
}

export function formatRange(range) {
  if (range.min_c === null || range.min_c === undefined) return `≤ ${range.max_c} °C`;
  if (range.max_c === null || range.max_c === undefined) return `≥ ${range.min_c} °C`;
  return `${range.min_c} … ${range.max_c} °C`;
}

// A line under the header: a text, or an error (its translation and the server's detail).
export function notice(message, kind = "ok") {
  if (message instanceof ApiError && message.code === "offline") return markStale();
  const box = document.getElementById("notice");
  if (message instanceof Error) box.replaceChildren(errorNode(message));
  else box.textContent = message;
  box.className = `notice ${kind}`;
  box.hidden = false;
}

// The fields a refusal names, marked in their form: outlined, described by their own problem;
// the first one focused.
function markField(node, error) {
  for (const old of node.querySelectorAll(".field-error")) old.remove();
  for (const old of node.querySelectorAll("[aria-invalid]")) {
    old.removeAttribute("aria-invalid");
    old.removeAttribute("aria-describedby");
  }
  if (!error?.field) return;
  const several = error.problems?.length > 1 ? error.problems : [{ field: error.field, message: error.message }];
  let first = null;
  for (const { field, message } of several) {
    const input = node.elements.namedItem(field) ?? node.querySelector(`[data-answers~="${CSS.escape(field)}"]`);
    if (!(input instanceof HTMLElement) || input.hasAttribute("aria-invalid")) continue;
    const id = `${node.id || "form"}-${field}-error`;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", id);
    input.closest("label")?.append(el("span", { class: "field-error", id }, message));
    first ??= input;
  }
  first?.focus();
}

// A number as typed: a decimal comma is a point; anything else not a number stays text, so
// the server names the field.
export function decimal(text) {
  const value = Number(text.replace(",", "."));
  return Number.isFinite(value) ? value : text;
}

// A form from field specs; `submit(values, form)` runs on submit and its answer is shown: a
// string, or {text, warn: true} for a result that needs attention (a failed check).
// spec: {name, label, type = "text", required, options: [[value, label]], step, min, max, value,
// answers: [the other names a refusal may give this input (a scan's trace_code, batch_no...)]}
export function form(specs, submit, { button = "common.submit", id } = {}) {
  const fields = specs.map((spec) => {
    let input;
    if (spec.type === "checkboxes") {
      return el(
        "fieldset",
        { class: "checks" },
        el("legend", {}, t(spec.label)),
        spec.options.map(([value, label]) =>
          el("label", {}, el("input", { type: "checkbox", name: spec.name, value, checked: (spec.value || []).includes(value) }), label),
        ),
      );
    }
    if (spec.options) {
      input = el(
        "select",
        { name: spec.name, required: spec.required },
        spec.options.map(([value, label]) =>
          el("option", { value, selected: value === spec.value }, label),
        ),
      );
    } else if (spec.type === "textarea") {
      input = el("textarea", { name: spec.name, required: spec.required, rows: 2 });
    } else if (spec.type === "number") {
      // Text with a decimal keyboard: "4,5" (a decimal comma) reads as 4.5.
      input = el("input", { name: spec.name, type: "text", inputmode: "decimal", required: spec.required, value: spec.value, autocomplete: "off" });
    } else {
      input = el("input", {
        name: spec.name,
        type: spec.type || "text",
        required: spec.required,
        value: spec.value,
        autocomplete: spec.autocomplete || "off",
      });
    }
    if (spec.answers) input.dataset.answers = spec.answers.join(" ");
    return el("label", {}, el("span", {}, t(spec.label)), input);
  });
  const result = el("p", { class: "result", role: "status" });
  const node = el("form", { class: "form", id }, fields, el("button", { type: "submit" }, t(button)), result);
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = {};
    for (const spec of specs) {
      if (spec.type === "checkboxes") {
        values[spec.name] = Array.from(node.querySelectorAll(`input[name="${spec.name}"]:checked`), (box) => box.value);
        continue;
      }
      const raw = node.elements[spec.name].value.trim();
      if (raw === "") continue;
      values[spec.name] = spec.type === "number" ? decimal(raw) : raw;
    }
    result.className = "result";
    result.textContent = t("common.working");
    markField(node, null);
    try {
      const answer = await submit(values, node);
      const warn = typeof answer === "object" && answer?.warn;
      result.className = warn ? "result error" : "result ok";
      result.textContent = typeof answer === "string" ? answer : answer?.text ?? t("common.done");
    } catch (error) {
      result.className = "result error";
      result.replaceChildren(errorNode(error));
      markField(node, error);
    }
  });
  return node;
}

// A table: columns [{label, value: (row) => string | Node}], rows: objects. Wider than a phone,
// it scrolls sideways, and takes the keyboard's focus to scroll by keys too.
export function table(columns, rows, empty = "common.none") {
  if (!rows.length) return el("p", { class: "muted" }, t(empty));
  return el(
    "div",
    { class: "scroll", tabindex: "0" },
    el(
      "table",
      {},
      el("thead", {}, el("tr", {}, columns.map((column) => el("th", {}, t(column.label))))),
      el(
        "tbody",
        {},
        rows.map((row) => el("tr", {}, columns.map((column) => el("td", {}, column.value(row) ?? "—")))),
      ),
    ),
  );
}

export function section(title, ...children) {
  return el("section", { class: "panel" }, el("h2", {}, t(title)), children);
}

// When the page last heard from the gateway; while it cannot, what it shows is marked stale
// with its age (the gateway out of reach is said in words, never "Failed to fetch").
let heardAt = Date.now();
let staleTimer = null;

function minutesAgo(moment) {
  return Math.max(0, Math.round((Date.now() - moment) / 60000));
}

function showStale() {
  document.body.classList.add("stale");
  notice(t("common.offline_since", { time: formatTime(new Date(heardAt).toISOString(), true), minutes: minutesAgo(heardAt) }), "error");
}

function staleSince(moment) {
  heardAt = Math.min(heardAt, moment);
  markStale();
}

export function markStale() {
  showStale();
  if (staleTimer === null) staleTimer = setInterval(showStale, 30000);
}

export function markFresh() {
  heardAt = Date.now();
  if (!document.body.classList.contains("stale")) return;
  document.body.classList.remove("stale");
  clearInterval(staleTimer);
  staleTimer = null;
  document.getElementById("notice").hidden = true;
}

function failed(error) {
  if (error instanceof ApiError && error.code === "offline") markStale();
  else notice(error, "error");
}

// Run `step` now and every `ms` while the page is visible.
export function every(ms, step) {
  const run = () => {
    if (!document.hidden) step().then(markFresh, failed);
  };
  run();
  return setInterval(run, ms);
}

// The gateway's pushed state (GET /api/events): `live("fridges", draw)` calls `draw` with each
// new body, at once with the last one if it came already. One stream for the whole page.
const LIVE_EVENTS = ["fridges", "alarms"];
const liveHandlers = new Map(LIVE_EVENTS.map((name) => [name, []]));
const liveLatest = new Map();

export function live(name, handler) {
  liveHandlers.get(name).push(handler);
  if (liveLatest.has(name)) handler(liveLatest.get(name));
}

function openLive() {
  const source = new EventSource("/api/events");
  for (const name of LIVE_EVENTS) {
    source.addEventListener(name, (event) => {
      markFresh();
      const body = JSON.parse(event.data);
      liveLatest.set(name, body);
      for (const handler of liveHandlers.get(name)) {
        try {
          handler(body);
        } catch (error) {
          notice(error, "error");
        }
      }
    });
  }
  source.addEventListener("error", () => {
    // Signed out while the page was open: the stream is refused; a plain call says why.
    if (source.readyState === EventSource.CLOSED) api("/api/session").catch(failed);
    else markStale();
  });
}

// -- the open alarms on every page: a banner, a count on the nav, opt-in sound and notice -----

const ALERT_KEY = "coldchain_alert";

function minutesSince(iso) {
  return iso ? minutesAgo(Date.parse(iso)) : 0;
}

// The highest tier notified so far (1 at opening).
export function tierReached(alarm) {
  return Math.max(1, ...Object.keys(alarm.notified_tiers || {}).map(Number));
}

export function personName(people, id) {
  return people?.[id] ?? id;
}

function alarmLine(alarm, people) {
  const parts = [
    `${alarm.place}：${t(`alarm.kind.${alarm.kind}`)}`,
    alarm.current ? formatTemp(alarm.current.celsius) : null,
    t("alarm.for_minutes", { minutes: minutesSince(alarm.since || alarm.opened_at) }),
    t("alarm.tier_reached", { tier: tierReached(alarm) }),
    alarm.acks.length
      ? `${t("alarm.acked_by")}${alarm.acks.map((ack) => personName(people, ack.person)).join("、")}`
      : t("alarm.not_acked"),
  ];
  return parts.filter(Boolean).join(" · ");
}

let alarmsKnown = null; // "id:tier" of each open alarm last shown

function alert(body) {
  const now = new Set(body.alarms.map((alarm) => `${alarm.id}:${tierReached(alarm)}`));
  const fresh = alarmsKnown === null ? [] : body.alarms.filter((alarm) => !alarmsKnown.has(`${alarm.id}:${tierReached(alarm)}`));
  alarmsKnown = now;
  if (!fresh.length || localStorage.getItem(ALERT_KEY) !== "on") return;
  beep([880, 660, 880]);
  if ("Notification" in window && Notification.permission === "granted") {
    for (const alarm of fresh) new Notification(t("alarm.notify_title"), { body: alarmLine(alarm, body.names), tag: alarm.id });
  }
}

// A short tone sequence (Hz) by WebAudio: no sound file to fetch.
export function beep(tones, seconds = 0.15) {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return;
  const audio = new Context();
  tones.forEach((hz, index) => {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = hz;
    gain.gain.value = 0.2;
    osc.connect(gain).connect(audio.destination);
    osc.start(audio.currentTime + index * seconds);
    osc.stop(audio.currentTime + (index + 1) * seconds * 0.9);
  });
}

function alertSwitch() {
  const on = localStorage.getItem(ALERT_KEY) === "on";
  const button = el("button", { type: "button", class: "lang", id: "alert-switch", "aria-pressed": String(on) }, t(on ? "alarm.alerts_on" : "alarm.alerts_off"));
  button.addEventListener("click", async () => {
    const next = localStorage.getItem(ALERT_KEY) !== "on";
    if (next && "Notification" in window && Notification.permission === "default") await Notification.requestPermission();
    localStorage.setItem(ALERT_KEY, next ? "on" : "off");
    button.setAttribute("aria-pressed", String(next));
    button.textContent = t(next ? "alarm.alerts_on" : "alarm.alerts_off");
    if (next) beep([660]);
  });
  return button;
}

function drawAlarms(body) {
  const open = body.alarms.filter((alarm) => alarm.status !== "closed");
  const banner = document.getElementById("alarm-banner");
  banner.hidden = open.length === 0;
  const lines = open.slice(0, 3).map((alarm) => el("a", { href: "/alarms", class: `alarm-line alarm-${alarm.status}`, "data-alarm": alarm.id }, alarmLine(alarm, body.names)));
  if (open.length > 3) lines.push(el("a", { href: "/alarms" }, t("alarm.more", { count: open.length - 3 })));
  banner.replaceChildren(...lines);
  const link = document.querySelector('#nav a[data-nav="alarms"]');
  if (link) {
    link.querySelector(".count")?.remove();
    link.querySelector(".sr-only")?.remove();
    if (open.length) {
      link.append(
        el("span", { class: "count", "aria-hidden": "true" }, String(open.length)),
        el("span", { class: "sr-only" }, t("alarm.count", { count: open.length })),
      );
    }
  }
  alert(body);
}

async function loadStrings() {
  const response = await fetch(`/static/i18n/${lang}.json`);
  strings = await response.json();
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

function drawShell() {
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  document.title = `${t("app.title")} · ${session.unit}`;
  const nav = document.getElementById("nav");
  const here = session.nav.find((name) => location.pathname === (name === "dashboard" ? "/" : `/${name}`));
  for (const name of session.nav) {
    const href = name === "dashboard" ? "/" : `/${name}`;
    nav.appendChild(el("a", { href, class: name === here ? "here" : null, "data-nav": name, "aria-current": name === here ? "page" : null }, t(`nav.${name}`)));
  }
  document.getElementById("who").textContent = session.display;
  document.getElementById("who").after(alertSwitch());
  document.getElementById("notice").before(el("div", { id: "alarm-banner", class: "alarm-banner", role: "alert", hidden: true }));
  const switcher = document.getElementById("lang");
  switcher.textContent = lang === "zh" ? "English" : "中文";
  switcher.addEventListener("click", () => {
    localStorage.setItem(LANG_KEY, lang === "zh" ? "en" : "zh");
    location.reload();
  });
  document.getElementById("sign-out").addEventListener("click", async () => {
    await api("/api/session", { method: "DELETE" });
    navigator.serviceWorker?.controller?.postMessage("forget");
    location.assign(loginUrl("/"));
  });
}

// Each screen's entry: translations, header, then `render(main)`.
export async function start(render) {
  await loadStrings();
  drawShell();
  live("alarms", drawAlarms);
  openLive();
  // Installable, and readable with its age when the gateway is out of reach (secure origins:
  // https, or the gateway's own machine).
  if (window.isSecureContext && navigator.serviceWorker) {
    navigator.serviceWorker.register("/sw.js").catch((error) => console.warn("service worker:", error));
  }
  const main = document.getElementById("main");
  main.replaceChildren();
  try {
    await render(main);
  } catch (error) {
    failed(error);
  }
}

// Compartments on hold (an open too-warm, too-cold or probe-fault alarm): what is in them may
// not be received, moved in or given until the alarm clears. A banner on the pages that touch
// stock; nothing when no ledger runs or nothing is held. Refreshes with `every`, and at once
// when the pushed alarms change (an alarm that opens or clears changes what is held).
const HOLDS_MS = 15000;

export function holdsBanner() {
  const node = el("div", { class: "holds", id: "holds", role: "alert", hidden: true });
  const refresh = async () => {
    let body;
    try {
      body = await api("/api/ledger/holds");
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return;
      throw error;
    }
    node.hidden = body.holds.length === 0;
    node.replaceChildren(
      ...body.holds.map((hold) =>
        el(
          "p",
          {},
          el("strong", {}, t("hold.title", { compartment: hold.compartment_name })),
          " ",
          t(`hold.kind.${hold.kind}`),
          " ",
          t("hold.detail", {
            no: hold.alarm_no ?? "?",
            since: formatTime(hold.since),
            packages: hold.packages,
            doses: hold.doses,
          }),
          hold.override
            ? ` ${t("hold.override", { by: hold.override.by_name, reason: hold.override.reason })}`
            : "",
        ),
      ),
    );
  };
  every(HOLDS_MS, refresh);
  live("alarms", () => refresh().then(markFresh, failed));
  return node;
}
