// Stocktake (盘点): scan every package on the shelf into a list, compare it with the books
// (账苗一致); a difference is corrected by an adjustment with its reason.

import { cameraButton } from "./camera.js";
import { api, el, errorNode, form, may, section, t, table } from "./core.js";
import { eventId } from "./scan.js";

const STOCK = "/api/ledger/stock";

// One row per product and batch: the books' packages, those scanned, the difference.
function comparison(report) {
  const rows = new Map();
  const row = (line) => {
    const key = `${line.product_id}\u0000${line.batch_no}`;
    if (!rows.has(key)) rows.set(key, { product_id: line.product_id, batch_no: line.batch_no, book: 0, physical: 0 });
    return rows.get(key);
  };
  for (const line of report.book) row(line).book = line.packages;
  for (const line of report.physical) row(line).physical = line.packages;
  return [...rows.values()];
}

function reportView(report, adjustment) {
  const codes = (label, list) => (list.length ? el("p", {}, el("span", {}, t(label)), " ", el("code", {}, list.join(", "))) : null);
  return el(
    "div",
    {},
    el("p", { class: report.consistent ? "summary" : "summary warn" }, t(report.consistent ? "stocktake.consistent" : "stocktake.different", { missing: report.missing.length, unexpected: report.unexpected.length })),
    table(
      [
        { label: "stock.product_id", value: (row) => row.product_id },
        { label: "stock.batch", value: (row) => row.batch_no },
        { label: "stocktake.book", value: (row) => String(row.book) },
        { label: "stocktake.physical", value: (row) => String(row.physical) },
        { label: "stocktake.difference", value: (row) => String(row.physical - row.book) },
        {
          label: "stocktake.action",
          value: (row) =>
            row.physical === row.book
              ? null
              : el("button", { type: "button", class: "use", on: { click: () => fillAdjustment(adjustment, row) } }, t("stocktake.adjust_this")),
        },
      ],
      comparison(report),
    ),
    codes("stocktake.missing", report.missing),
    codes("stocktake.unexpected", report.unexpected),
  );
}

function fillAdjustment(node, row) {
  node.elements.product_id.value = row.product_id;
  node.elements.batch_no.value = row.batch_no;
  node.elements.packages.value = row.physical - row.book;
  node.scrollIntoView({ behavior: "smooth" });
  node.elements.doses.focus();
}

// The scanner types each code and Enter into the list: one code a line; the camera adds its
// read as a line the same way.
function stocktakeForm(adjustment) {
  const codes = el("textarea", { id: "stocktake-codes", rows: 6, "aria-label": t("stocktake.codes"), placeholder: t("stocktake.codes") });
  const result = el("div", { id: "stocktake-result" });
  const status = el("p", { class: "result", role: "status" });
  const camera = cameraButton((code) => {
    const before = codes.value && !codes.value.endsWith("\n") ? "\n" : "";
    codes.value += `${before}${code}\n`;
  });
  const node = el("form", { id: "stocktake-form", class: "stacked" }, codes, camera, el("button", { type: "submit", class: "primary" }, t("stocktake.compare")), status);
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    const scans = codes.value.split("\n").map((line) => line.trim()).filter(Boolean);
    status.className = "result";
    status.textContent = t("common.working");
    try {
      const report = await api(`${STOCK}/stocktake`, { method: "POST", body: { scans } });
      status.textContent = t("stocktake.scanned", { count: scans.length });
      result.replaceChildren(reportView(report, adjustment));
    } catch (error) {
      status.className = "result error";
      status.replaceChildren(errorNode(error));
    }
  });
  return el("div", {}, el("p", { class: "muted" }, t("stocktake.hint")), node, result);
}

function adjustmentForm(changed) {
  return form(
    [
      { name: "product_id", label: "stock.product_id", required: true },
      { name: "batch_no", label: "stock.batch", required: true },
      { name: "packages", label: "stocktake.packages_delta", type: "number", step: 1, value: 0, required: true },
      { name: "doses", label: "stocktake.doses_delta", type: "number", step: 1, value: 0, required: true },
      { name: "reason", label: "stocktake.reason", required: true },
    ],
    async (values, node) => {
      const answer = await api(`${STOCK}/adjustments`, { method: "POST", body: { ...values, event_id: eventId() } });
      node.elements.reason.value = "";
      await changed();
      return t(answer.duplicate ? "stocktake.adjust_again" : "stocktake.adjusted");
    },
    { button: "stocktake.adjust", id: "adjustment-form" },
  );
}

// The panel for a user who may take stock; null for the others.
export function stocktakePanel(changed) {
  if (!may("stocktake")) return null;
  const adjustment = adjustmentForm(changed);
  return section(
    "stocktake.title",
    stocktakeForm(adjustment),
    el("h3", {}, t("stocktake.adjustment")),
    adjustment,
  );
}
