// Technician: find probes on a bus, bind (附表3), replace or move (附表1), decommission
// (附表4); identify mode (warm a probe in your hand, see which one rises); the audit of changes
// and the filled-in forms to export. Every form carries the configuration version it saw.

import { api, el, form, formatTime, notice, section, start, t, table } from "./core.js";
import { nearbyPanel } from "./nearby.js";

const BASE = "/api/commissioning";
let overview = null;

async function loadOverview() {
  overview = await api(BASE);
}

// POST a form with the version it was filled against; refusals come back with their reasons.
async function submit(kind, fields, done) {
  const body = { expected_version: overview.version, ...fields };
  const answer = await api(`${BASE}/${kind}`, { method: "POST", body });
  const message = t("tech.done", { form: t(`tech.form.${answer.change.form}`), probe: answer.change.new_probe ?? answer.change.old_probe ?? "" });
  notice(message); // the redraw replaces the form and its result line
  await done();
  return message;
}

function compartmentOptions() {
  return overview.compartments.map((c) => [c.ref, `${c.fridge_name} ${c.compartment}`]);
}

function probeOptions() {
  return overview.probes.map((p) => [p.code, `${p.code} · ${p.compartment_name}`]);
}

function hardwareFields() {
  return [
    { name: "bus", label: "tech.bus", required: true, options: overview.buses.map((b) => [b.name, `${b.name} (${b.transport})`]) },
    { name: "device_id", label: "tech.device_id", type: "number", min: 1, max: 247, required: true },
    { name: "channel", label: "tech.channel", type: "number", min: 0, max: 63, value: 0 },
    { name: "profile", label: "tech.profile", required: true, options: overview.profiles.map((p) => [p, p]) },
  ];
}

// The [[probes]] table of a Modbus probe from the form's fields.
function probeTable(values) {
  const probe = { code: values.code };
  for (const name of ["bus", "device_id", "channel", "profile"]) {
    if (values[name] !== undefined) probe[name] = values[name];
  }
  return probe;
}

function bindForm(done) {
  return form(
    [
      { name: "code", label: "tech.code", required: true },
      { name: "compartment", label: "tech.compartment", required: true, options: compartmentOptions() },
      ...hardwareFields(),
      { name: "note", label: "tech.note" },
    ],
    (values) => submit("bind", { probe: { ...probeTable(values), compartment: values.compartment }, note: values.note ?? "" }, done),
    { button: "tech.bind", id: "bind-form" },
  );
}

function replaceForm(done) {
  return form(
    [
      { name: "old_code", label: "tech.old_code", required: true, options: probeOptions() },
      { name: "code", label: "tech.new_code", required: true },
      ...hardwareFields(),
      { name: "note", label: "tech.note" },
    ],
    (values) => submit("replace", { old_code: values.old_code, probe: probeTable(values), note: values.note ?? "" }, done),
    { button: "tech.replace", id: "replace-form" },
  );
}

function moveForm(done) {
  return form(
    [
      { name: "code", label: "tech.code", required: true, options: probeOptions() },
      { name: "compartment", label: "tech.compartment", required: true, options: compartmentOptions() },
      { name: "note", label: "tech.note" },
    ],
    (values) => submit("move", { code: values.code, compartment: values.compartment, note: values.note ?? "" }, done),
    { button: "tech.move", id: "move-form" },
  );
}

function decommissionForm(done) {
  return form(
    [
      { name: "code", label: "tech.code", required: true, options: probeOptions() },
      { name: "note", label: "tech.note" },
    ],
    (values) => submit("decommission", { code: values.code, note: values.note ?? "" }, done),
    { button: "tech.decommission", id: "decommission-form" },
  );
}

// Discovery fills the bind form with the hardware of the channel picked.
function discoveryPanel(forms) {
  const result = el("div", { id: "discovered" });
  const scan = form(
    [
      { name: "bus", label: "tech.bus", required: true, options: overview.buses.map((b) => [b.name, b.name]) },
      { name: "first", label: "tech.first", type: "number", min: 1, max: 247, value: 1, required: true },
      { name: "last", label: "tech.last", type: "number", min: 1, max: 247, value: 16, required: true },
    ],
    async (values) => {
      const body = await api(`${BASE}/discover/modbus?${new URLSearchParams(values)}`);
      const rows = body.devices.flatMap((device) =>
        device.channels.map((channel) => ({ ...channel, device_id: device.device_id, profile: device.profile })),
      );
      result.replaceChildren(
        table(
          [
            { label: "tech.device_id", value: (row) => String(row.device_id) },
            { label: "tech.channel", value: (row) => String(row.channel) },
            { label: "tech.profile", value: (row) => row.profile },
            { label: "tech.reading", value: (row) => (row.temperature === null || row.temperature === undefined ? "—" : `${row.temperature} °C`) },
            { label: "tech.bound_to", value: (row) => row.bound_to ?? t("tech.free") },
            {
              label: "tech.action",
              value: (row) =>
                row.bound_to
                  ? null
                  : el("button", { type: "button", class: "use", on: { click: () => fillBind(forms.bind, body.bus, row) } }, t("tech.use")),
            },
          ],
          rows,
        ),
      );
      return t("tech.found", { count: rows.length, scanned: body.scanned });
    },
    { button: "tech.scan", id: "discover-form" },
  );
  return section("tech.discover", scan, result);
}

function fillBind(bindNode, bus, row) {
  bindNode.elements.bus.value = bus;
  bindNode.elements.device_id.value = row.device_id;
  bindNode.elements.channel.value = row.channel;
  if (row.profile) bindNode.elements.profile.value = row.profile;
  bindNode.scrollIntoView({ behavior: "smooth" });
  bindNode.elements.code.focus();
}

function identifyPanel() {
  const result = el("div", { id: "identified" });
  const run = form(
    [{ name: "window_s", label: "tech.window", type: "number", min: 10, max: 900, value: 60, required: true }],
    async (values) => {
      const body = await api(`${BASE}/identify?window_s=${values.window_s}`);
      result.replaceChildren(
        table(
          [
            { label: "tech.probe", value: (row) => row.probe ?? row.key },
            { label: "tech.compartment", value: (row) => row.compartment_name ?? t("tech.free") },
            { label: "tech.rise", value: (row) => (row.rise_c === null ? "—" : `${row.rise_c.toFixed(2)} °C`) },
            { label: "tech.rate", value: (row) => (row.rate_c_per_min === null ? "—" : `${row.rate_c_per_min.toFixed(2)} °C/min`) },
            { label: "tech.points", value: (row) => String(row.points) },
          ],
          body.ranking,
        ),
      );
      return t("tech.identified");
    },
    { button: "tech.identify", id: "identify-form" },
  );
  return section("tech.identify_title", el("p", { class: "muted" }, t("tech.identify_hint")), run, result);
}

function auditPanel(changes) {
  const links = el(
    "p",
    { class: "links" },
    el("a", { href: `${BASE}/forms.html`, target: "_blank", rel: "noopener", class: "button" }, t("tech.forms_print")),
    [1, 2, 3, 4].map((n) => el("a", { href: `${BASE}/forms.csv?table=${n}`, class: "button" }, t("tech.form_csv", { n }))),
  );
  return section(
    "tech.audit",
    links,
    table(
      [
        { label: "tech.at", value: (row) => formatTime(row.at) },
        { label: "tech.form_kind", value: (row) => t(`tech.form.${row.form}`) },
        { label: "tech.fridge", value: (row) => [row.old_fridge, row.new_fridge].filter(Boolean).join(" → ") },
        { label: "tech.probe", value: (row) => [row.old_probe, row.new_probe].filter(Boolean).join(" → ") },
        { label: "tech.who", value: (row) => row.who },
        { label: "tech.note", value: (row) => row.note },
      ],
      changes.slice().reverse(),
    ),
  );
}

function bindings() {
  return table(
    [
      { label: "tech.compartment", value: (row) => `${row.fridge_name} ${row.compartment}` },
      { label: "tech.probes", value: (row) => row.probes.join(", ") || t("tech.none_bound") },
      { label: "tech.expected", value: (row) => String(row.expected) },
    ],
    overview.compartments,
  );
}

// How many probes a compartment expects: a bind beyond it is refused until this is raised.
function probeCountForm(done) {
  return form(
    [
      { name: "compartment", label: "tech.compartment", required: true, options: compartmentOptions() },
      { name: "probes", label: "tech.expected", type: "number", value: 1, required: true },
      { name: "note", label: "tech.note" },
    ],
    (values) => submit("probes", { compartment: values.compartment, probes: values.probes, note: values.note ?? "" }, done),
    { button: "tech.set_expected", id: "probes-form" },
  );
}

start(async (main) => {
  const draw = async () => {
    await loadOverview();
    const { changes } = await api(`${BASE}/changes`);
    const forms = { bind: bindForm(draw) };
    main.replaceChildren(
      el("h1", {}, t("nav.technician")),
      el("p", { class: "flag", hidden: overview.editable }, t("tech.not_editable")),
      section("tech.bindings", bindings()),
      discoveryPanel(forms),
      nearbyPanel(),
      section("tech.bind_title", forms.bind),
      el("details", {}, el("summary", {}, t("tech.replace_title")), replaceForm(draw)),
      el("details", {}, el("summary", {}, t("tech.move_title")), moveForm(draw)),
      el("details", {}, el("summary", {}, t("tech.decommission_title")), decommissionForm(draw)),
      el("details", {}, el("summary", {}, t("tech.expected_title")), probeCountForm(draw)),
      identifyPanel(),
      auditPanel(changes),
    );
  };
  await draw();
});
