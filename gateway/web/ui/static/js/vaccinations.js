// Vaccinations: scan each dose at vaccination into the record, today's doses with a link to
// the printable certificate, and the upload status. Names arrive masked where the role needs it.

import { api, available, clinicDay, el, every, form, formatTime, holdsBanner, may, section, start, t, table } from "./core.js";
import { cameraButton } from "./camera.js";
import { eventId } from "./scan.js";
import { uploadPanel } from "./upload.js";

const REFRESH_MS = 15000;

// The choices of one code table: the code is what is sent, "code name" what is shown.
function choices(tables, field) {
  return [["", t("vacc.choose")], ...(tables[field] ?? []).map(({ code, name }) => [code, `${code} ${name}`])];
}

// Vaccine, manufacturer, batch and expiry come from the scan; the rest is chosen by name.
function doseForm(refresh, tables) {
  const node = form(
    [
      { name: "archive_no", label: "vacc.archive_no", required: true },
      { name: "dose_no", label: "vacc.dose_no", type: "number", min: 1, max: 20, value: 1, required: true },
      { name: "site_code", label: "vacc.site", required: true, options: choices(tables, "site_code") },
      { name: "vaccination_type", label: "vacc.type", required: true, options: choices(tables, "vaccination_type") },
      { name: "vaccine_attribute", label: "vacc.attribute", required: true, options: choices(tables, "vaccine_attribute") },
      // A refusal of the scanned package names its trace code, batch or GTIN: shown here.
      { name: "scan", label: "vacc.scan", required: true, answers: ["trace_code", "batch_no", "gtin", "expiry", "serial"] },
    ],
    async (values, formNode) => {
      const answer = await api("/api/ledger/doses", { method: "POST", body: { ...values, event_id: eventId() } });
      formNode.elements.scan.value = "";
      await refresh();
      return t("vacc.recorded", { code: answer.trace_code ?? answer.record_id ?? "" });
    },
    { button: "vacc.record", id: "dose-form" },
  );
  // The camera's read goes where a hand scanner types it, and submits as its Enter does.
  const scan = node.elements.scan;
  scan.closest("label").after(
    cameraButton((code) => {
      scan.value = code;
      node.requestSubmit();
    }),
  );
  return section(
    "vacc.scan_title",
    el("p", { class: "muted" }, t("vacc.scan_hint")),
    el("p", { class: "muted" }, t("vacc.from_scan")),
    node,
  );
}

// A recipient not yet in the ledger (the archive number of the immunisation record card).
function recipientForm(tables) {
  const node = form(
    [
      { name: "archive_no", label: "vacc.archive_no", required: true },
      { name: "name", label: "vacc.name", required: true },
      { name: "sex", label: "vacc.sex", required: true, options: [["1", t("vacc.male")], ["2", t("vacc.female")]] },
      { name: "birth_date", label: "vacc.birth_date", type: "date", required: true },
      { name: "id_number", label: "vacc.id_number", required: true },
      { name: "phone", label: "vacc.phone" },
      { name: "address", label: "vacc.address", required: true },
      { name: "crowd_category", label: "vacc.crowd", required: true, options: choices(tables, "crowd_category") },
      { name: "household_county", label: "vacc.household_county", required: true, options: choices(tables, "household_county") },
      { name: "current_area", label: "vacc.current_area", required: true, options: choices(tables, "current_area") },
      { name: "marital_status", label: "vacc.marital_status", required: true, options: choices(tables, "marital_status") },
      { name: "occupation", label: "vacc.occupation", required: true, options: choices(tables, "occupation") },
      { name: "father_name", label: "vacc.father_name" },
      { name: "mother_name", label: "vacc.mother_name" },
      { name: "guardian_name", label: "vacc.guardian_name" },
    ],
    async (values) => {
      const person = await api("/api/ledger/recipients", { method: "POST", body: values });
      document.querySelector("#dose-form [name=archive_no]").value = person.archive_no;
      return t("vacc.registered", { archive: person.archive_no });
    },
    { button: "vacc.register", id: "recipient-form" },
  );
  return el("details", { class: "panel" }, el("summary", {}, t("vacc.register_title")), node);
}

// The papers of a day: the 接种登记表 for everyone; 表1/表2 as printable pages and CSV exports
// for those who see the uploads (yesterday's by default: the tables are due at 12:00).
function summaryLinks(withSheets) {
  const day = el("input", { type: "date", name: "summary_day", value: clinicDay(new Date(Date.now() - 86400000)) });
  const links = el("p", { class: "links", id: "summary-links" });
  const draw = () => {
    const base = `/api/ledger/summaries/sheet?day=${encodeURIComponent(day.value)}`;
    const link = (by, format, label) => el("a", { href: `${base}&by=${by}&format=${format}`, target: "_blank", rel: "noopener" }, t(label));
    const register = el("a", { href: `/api/ledger/register?day=${encodeURIComponent(day.value)}`, target: "_blank", rel: "noopener" }, t("vacc.register_sheet"));
    const sheets = withSheets
      ? [" · ", link("age_group", "html", "vacc.sheet_age"), " · ", link("crowd_category", "html", "vacc.sheet_crowd"), " · ",
         link("age_group", "csv", "vacc.sheet_age_csv"), " · ", link("crowd_category", "csv", "vacc.sheet_crowd_csv")]
      : [];
    links.replaceChildren(register, ...sheets);
  };
  day.addEventListener("change", draw);
  draw();
  return section("vacc.sheets", el("label", {}, el("span", {}, t("vacc.sheet_day")), day), links);
}

function certificateLink(archiveNo) {
  return el("a", { href: `/api/ledger/recipients/${encodeURIComponent(archiveNo)}/certificate`, target: "_blank", rel: "noopener" }, t("vacc.certificate"));
}

function doseTable(doses) {
  return table(
    [
      { label: "vacc.time", value: (row) => formatTime(row.vaccinated_at) },
      { label: "vacc.person", value: (row) => row.recipient?.name },
      { label: "vacc.archive_no", value: (row) => row.recipient?.archive_no },
      { label: "vacc.vaccine", value: (row) => row.vaccine_code },
      { label: "stock.batch", value: (row) => row.batch_no },
      { label: "vacc.dose_no", value: (row) => String(row.dose_no) },
      { label: "vacc.vaccinator", value: (row) => row.vaccinator },
      { label: "vacc.status", value: (row) => row.status },
      { label: "vacc.certificate", value: (row) => (row.recipient?.archive_no ? certificateLink(row.recipient.archive_no) : null) },
    ],
    doses,
  );
}

start(async (main) => {
  main.append(el("h1", {}, t("nav.vaccinations")));
  main.append(holdsBanner());
  if (!(await available("/api/ledger/doses"))) {
    main.append(el("p", { class: "muted" }, t("ledger.off")));
    return;
  }
  const today = el("div", { id: "today" });
  const refresh = async () => {
    const body = await api("/api/ledger/doses");
    today.replaceChildren(doseTable(body.doses));
  };
  if (may("administer")) {
    const { tables } = await api("/api/ledger/code-tables");
    main.append(recipientForm(tables), doseForm(refresh, tables));
  }
  main.append(section("vacc.today", today));
  main.append(summaryLinks(may("upload_view")));
  if (may("upload_view")) main.append(await uploadPanel());
  every(REFRESH_MS, refresh);
});
