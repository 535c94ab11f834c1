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

export class ApiError extends Error {
  constructor(status, message, code = null) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// A refusal {error, code, field, reason, params}: the page's own words for its code when it
// has them, the server's English otherwise.
function refusalText(payload) {
  if (typeof payload !== "object" || payload === null) return String(payload || "");
  const key = `error.${payload.code}`;
  if (payload.code && key in strings) return t(key, { ...payload.params, field: payload.field ?? "" });
  return payload.error ?? payload.reason ?? "";
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
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    location.assign(loginUrl(location.pathname));
    throw new ApiError(401, t("common.signed_out"));
  }
  const type = response.headers.get("Content-Type") || "";
  const payload = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const code = typeof payload === "object" ? (payload?.code ?? null) : null;
    throw new ApiError(response.status, refusalText(payload) || response.statusText, code);
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

export function notice(message, kind = "ok") {
  const box = document.getElementById("notice");
  box.textContent = message;
  box.className = `notice ${kind}`;
  box.hidden = false;
}

// A form from field specs; `submit(values, form)` runs on submit and its answer is shown: a
// string, or {text, warn: true} for a result that needs attention (a failed check).
// spec: {name, label, type = "text", required, options: [[value, label]], step, min, max, value}
export function form(specs, submit, { button = "common.submit", id } = {}) {
  const fields = specs.map((spec) => {
    let input;
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
    } else {
      input = el("input", {
        name: spec.name,
        type: spec.type || "text",
        required: spec.required,
        step: spec.step,
        min: spec.min,
        max: spec.max,
        value: spec.value,
        autocomplete: "off",
      });
    }
    return el("label", {}, el("span", {}, t(spec.label)), input);
  });
  const result = el("p", { class: "result", role: "status" });
  const node = el("form", { class: "form", id }, fields, el("button", { type: "submit" }, t(button)), result);
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = {};
    for (const spec of specs) {
      const raw = node.elements[spec.name].value.trim();
      if (raw === "") continue;
      values[spec.name] = spec.type === "number" ? Number(raw) : raw;
    }
    result.className = "result";
    result.textContent = t("common.working");
    try {
      const answer = await submit(values, node);
      const warn = typeof answer === "object" && answer?.warn;
      result.className = warn ? "result error" : "result ok";
      result.textContent = typeof answer === "string" ? answer : answer?.text ?? t("common.done");
    } catch (error) {
      result.className = "result error";
      result.textContent = error.message;
    }
  });
  return node;
}

// A table: columns [{label, value: (row) => string | Node}], rows: objects.
export function table(columns, rows, empty = "common.none") {
  if (!rows.length) return el("p", { class: "muted" }, t(empty));
  return el(
    "div",
    { class: "scroll" },
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

// Run `step` now and every `ms` while the page is visible.
export function every(ms, step) {
  const run = () => {
    if (!document.hidden) step().catch((error) => notice(error.message, "error"));
  };
  run();
  return setInterval(run, ms);
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
    nav.appendChild(el("a", { href, class: name === here ? "here" : null }, t(`nav.${name}`)));
  }
  document.getElementById("who").textContent = session.display;
  const switcher = document.getElementById("lang");
  switcher.textContent = lang === "zh" ? "English" : "中文";
  switcher.addEventListener("click", () => {
    localStorage.setItem(LANG_KEY, lang === "zh" ? "en" : "zh");
    location.reload();
  });
  document.getElementById("sign-out").addEventListener("click", async () => {
    await api("/api/session", { method: "DELETE" });
    location.assign(loginUrl("/"));
  });
}

// Each screen's entry: translations, header, then `render(main)`.
export async function start(render) {
  await loadStrings();
  drawShell();
  const main = document.getElementById("main");
  main.replaceChildren();
  try {
    await render(main);
  } catch (error) {
    notice(error.message, "error");
  }
}

// Compartments on hold (an open too-warm, too-cold or probe-fault alarm): what is in them may
// not be received, moved in or given until the alarm clears. A banner on the pages that touch
// stock; nothing when no ledger runs or nothing is held. Refreshes with `every`.
const HOLDS_MS = 15000;

export function holdsBanner() {
  const node = el("div", { class: "holds", id: "holds", role: "alert", hidden: true });
  every(HOLDS_MS, async () => {
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
          el("strong", {}, t("hold.title", { compartment: hold.compartment })),
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
            ? ` ${t("hold.override", { by: hold.override.by, reason: hold.override.reason })}`
            : "",
        ),
      ),
    );
  });
  return node;
}
