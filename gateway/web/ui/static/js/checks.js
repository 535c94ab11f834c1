// Checks: the twice-daily thermometer record (with the reminder when one is missing and the
// month's sheet to print) and the technician's calibration check against each probe.

import { api, available, clinicDay, el, every, form, formatTemp, formatTime, may, section, start, t, table } from "./core.js";

const REFRESH_MS = 30000;

function missingPanel(missing) {
  if (!missing.length) return el("p", { class: "result ok", id: "missing" }, t("checks.none_missing"));
  return el(
    "div",
    { id: "missing" },
    el("p", { class: "flag" }, t("checks.missing", { count: missing.length })),
    el("ul", {}, missing.map((item) => el("li", {}, `${item.day} ${item.half_label} · ${item.compartment_name} · ${t("checks.due")} ${formatTime(item.due_at)}`))),
  );
}

function manualForm(compartments, refresh) {
  return form(
    [
      { name: "compartment", label: "checks.compartment", required: true, options: compartments.map((c) => [c.ref, `${c.fridge_name} ${c.compartment}`]) },
      { name: "temperature", label: "checks.temperature", type: "number", step: 0.1, min: -90, max: 60, required: true },
      { name: "note", label: "checks.note" },
    ],
    async (values) => {
      const saved = await api("/api/manual-readings", { method: "POST", body: values });
      await refresh();
      const text = t("checks.saved", { half: saved.half_label, temp: formatTemp(saved.temperature) });
      return saved.excursion ? { text: `${text} · ${t("checks.excursion")}`, warn: true } : text;
    },
    { button: "checks.save", id: "manual-form" },
  );
}

function sheetLinks(month) {
  const query = (format) => `/api/manual-readings/sheet?${new URLSearchParams({ month, format })}`;
  return el(
    "p",
    { class: "links" },
    el("a", { href: query("html"), target: "_blank", rel: "noopener", class: "button" }, t("checks.sheet_print")),
    el("a", { href: query("csv"), class: "button" }, t("checks.sheet_csv")),
  );
}

function manualTable(rows) {
  return table(
    [
      { label: "checks.day", value: (row) => `${row.day} ${row.half_label}` },
      { label: "checks.compartment", value: (row) => row.compartment_name },
      { label: "checks.temperature", value: (row) => el("span", { class: row.excursion ? "flag" : null }, formatTemp(row.temperature)) },
      { label: "checks.taken_at", value: (row) => formatTime(row.taken_at) },
      { label: "checks.recorder", value: (row) => row.recorder_name },
      { label: "checks.note", value: (row) => row.note },
    ],
    rows,
  );
}

function calibrationForm(probes, refresh) {
  return form(
    [
      { name: "probe", label: "calib.probe", required: true, options: probes.map((p) => [p.code, `${p.code} · ${p.place}`]) },
      { name: "reference_c", label: "calib.reference", type: "number", step: 0.1, min: -90, max: 60, required: true },
      { name: "thermometer", label: "calib.thermometer" },
      { name: "note", label: "checks.note" },
    ],
    async (values) => {
      const check = await api("/api/calibrations", { method: "POST", body: values });
      await refresh();
      const verdict = check.passed ? t("calib.passed") : t("calib.failed");
      const text = t("calib.result", {
        probe: formatTemp(check.probe_c),
        reference: formatTemp(check.reference_c),
        difference: check.difference_c.toFixed(2),
        tolerance: check.tolerance_c,
        verdict,
      });
      return { text, warn: !check.passed };
    },
    { button: "calib.submit", id: "calibration-form" },
  );
}

function calibrationTable(rows) {
  return table(
    [
      { label: "calib.checked_at", value: (row) => formatTime(row.checked_at) },
      { label: "calib.probe", value: (row) => `${row.probe} · ${row.compartment_name}` },
      { label: "calib.reference", value: (row) => formatTemp(row.reference_c) },
      { label: "calib.probe_value", value: (row) => formatTemp(row.probe_c) },
      { label: "calib.difference", value: (row) => `${row.difference_c.toFixed(2)} / ±${row.tolerance_c}` },
      { label: "calib.verdict", value: (row) => el("span", { class: row.passed ? "ok" : "flag" }, t(row.passed ? "calib.passed" : "calib.failed")) },
      { label: "calib.who", value: (row) => row.who_name },
    ],
    rows,
  );
}

start(async (main) => {
  main.append(el("h1", {}, t("nav.checks")));
  if (!(await available("/api/manual-readings/missing"))) {
    main.append(el("p", { class: "muted" }, t("checks.off")));
    return;
  }
  const compartments = await api("/api/fridges");
  const probes = compartments.flatMap((c) => c.probes.map((p) => ({ code: p.code, place: `${c.fridge_name} ${c.compartment}` })));
  const month = clinicDay().slice(0, 7);
  const missing = el("div");
  const record = el("div");
  const repairs = el("div", { id: "repairs" });
  const calibrations = el("div", { id: "calibrations" });

  const refreshManual = async () => {
    const [gaps, rows] = await Promise.all([
      api(`/api/manual-readings/missing?month=${month}`),
      api(`/api/manual-readings?month=${month}`),
    ]);
    missing.replaceChildren(missingPanel(gaps.missing));
    record.replaceChildren(manualTable(rows.manual_readings.slice().reverse()));
  };
  const refreshCalibrations = async () => {
    const body = await api("/api/calibrations");
    repairs.replaceChildren(
      body.needs_repair.length ? el("p", { class: "flag" }, t("calib.needs_repair", { probes: body.needs_repair.join(", ") })) : "",
    );
    calibrations.replaceChildren(calibrationTable(body.calibrations));
  };

  main.append(
    section("checks.reminder", missing),
    section(
      "checks.manual",
      may("manual_reading") ? manualForm(compartments, refreshManual) : null,
      sheetLinks(month),
      record,
    ),
    section("calib.title", repairs, may("calibration") ? calibrationForm(probes, refreshCalibrations) : null, calibrations),
  );
  every(REFRESH_MS, async () => {
    await Promise.all([refreshManual(), refreshCalibrations()]);
  });
});
