// Stock: receive (into a compartment), move between compartments, issue, or ask to scrap by
// scanning into the page; the balances; what a compartment holds; the requests to approve;
// stocktake and adjustments.

import { approvalsPanel } from "./approvals.js";
import { api, available, el, every, holdsBanner, may, section, start, t, table } from "./core.js";
import { compartmentSelect, compartments, contentsPanel } from "./placement.js";
import { eventId, scanBox } from "./scan.js";
import { stocktakePanel } from "./stocktake.js";
import { uploadPanel } from "./upload.js";

const BALANCES_MS = 15000;

// `changed` runs after each scan that moved stock, to show the new balances at once.
// `places` are the compartments (null when locations are not tracked: no placing, no moves).
function scanPanel(changed, places) {
  const modes = [
    ["receive", "stock_receive"],
    ...(places ? [["move", "stock_receive"]] : []),
    ["issue", "stock_issue"],
    ["scrap", "stock_request"],
  ].filter(([, action]) => may(action));
  if (!modes.length) return null;
  const mode = el("select", { id: "scan-mode", "aria-label": t("stock.mode") }, modes.map(([name]) => el("option", { value: name }, t(`stock.mode_${name}`))));
  const toUnit = el("input", { id: "to-unit", type: "text", placeholder: t("stock.to_unit") });
  const reason = el("input", { id: "scrap-reason", type: "text", placeholder: t("stock.reason") });
  // The scrap's reason is chosen by its name; its code (疫苗报废原因代码) is what is sent.
  const reasonCode = el("select", { id: "scrap-reason-code", "aria-label": t("stock.reason_code") });
  if (may("stock_request")) {
    api("/api/ledger/scrap-reasons").then((body) =>
      reasonCode.replaceChildren(...body.reasons.map((row) => el("option", { value: row.code }, row.name))),
    );
  }
  const place = places ? compartmentSelect(places, "stock.not_placed") : null;
  const extras = () => {
    toUnit.hidden = mode.value !== "issue";
    reason.hidden = mode.value !== "scrap";
    reasonCode.hidden = mode.value !== "scrap";
    if (place) place.hidden = mode.value !== "receive" && mode.value !== "move";
  };
  mode.addEventListener("change", extras);
  extras();
  const box = scanBox("stock-scan", async (scan) => {
    const text = await record(scan);
    await changed();
    return { text, facts: await scanned(scan) };
  });
  const record = async (scan) => {
    const compartment = place?.value ?? "";
    if (mode.value === "receive" && compartment) {
      const answer = await api("/api/ledger/stock/receive-into", { method: "POST", body: { code: scan, compartment, event_id: eventId() } });
      return t("stock.received_into", { code: answer.code, compartment: answer.compartment_name });
    }
    if (mode.value === "receive") {
      const answer = await api("/api/ledger/stock/receive", { method: "POST", body: { scan, event_id: eventId() } });
      const said = t(answer.duplicate ? "stock.duplicate" : "stock.received", { code: answer.code });
      return answer.unverified ? `${said} ${t("stock.unverified")}` : said;
    }
    if (mode.value === "move") {
      if (!compartment) throw new Error(t("stock.pick_destination"));
      const answer = await api("/api/ledger/stock/moves", { method: "POST", body: { codes: [scan], compartment, event_id: eventId() } });
      return t("stock.moved", { code: answer.codes.join(", "), compartment: answer.compartment_name });
    }
    if (mode.value === "issue") {
      const answer = await api("/api/ledger/stock/issue", { method: "POST", body: { scan, event_id: eventId(), to_unit: toUnit.value.trim() } });
      return t(answer.duplicate ? "stock.duplicate" : "stock.issued", { code: answer.code });
    }
    const answer = await api("/api/ledger/stock/requests", {
      method: "POST",
      body: { kind: "scrap", scans: [scan], approval_id: eventId(), reason: reason.value.trim(), reason_code: reasonCode.value },
    });
    return t("stock.scrap_requested", { id: answer.approval_id });
  };
  return section("stock.scan", el("div", { class: "tabs" }, mode, place ?? "", toUnit, reasonCode, reason), box.node);
}

// What a scan was: product, batch, expiry, doses left and state (the ledger's look-up).
async function scanned(scan) {
  const found = await api("/api/ledger/resolve", { method: "POST", body: { scan } });
  if (!found.product) return [];
  return [
    found.product.name,
    t("stock.fact_batch", { batch: found.batch.batch_no }),
    t(found.batch.expired ? "stock.fact_expired" : "stock.fact_expiry", { date: found.batch.expiry_date }),
    found.stock?.doses_left ?? null,
  ]
    .filter((fact) => fact !== null && fact !== undefined)
    .map((fact) => (typeof fact === "number" ? t("stock.fact_doses", { doses: fact }) : fact));
}

function balancesTable(rows) {
  return table(
    [
      { label: "stock.name", value: (row) => row.name ?? row.product_id },
      { label: "stock.vaccine_code", value: (row) => row.vaccine_code },
      { label: "stock.batch", value: (row) => row.batch_no },
      { label: "stock.expiry", value: (row) => row.expiry_date },
      { label: "stock.packages", value: (row) => String(row.packages) },
      { label: "stock.doses", value: (row) => String(row.doses) },
    ],
    rows,
  );
}

start(async (main) => {
  main.append(el("h1", {}, t("nav.stock")));
  main.append(holdsBanner());
  if (!(await available("/api/ledger/stock/balances"))) {
    main.append(el("p", { class: "muted" }, t("ledger.off")));
    return;
  }
  const balances = el("div", { id: "balances" });
  const warnings = el("ul", { id: "stock-warnings", class: "warnings" });
  const approvals = approvalsPanel(() => refresh());
  const refresh = async () => {
    const body = await api("/api/ledger/stock/balances");
    balances.replaceChildren(balancesTable(body.balances));
    // Low and excess stock from the requisition figures (needs the placement service).
    const found = await api("/api/ledger/stock/warnings").catch(() => ({ warnings: [] }));
    warnings.replaceChildren(...found.warnings.map((w) => el("li", { class: w.kind === "low" ? "flag" : "warn" }, w.message)));
    if (approvals) await approvals.refresh();
  };
  const places = await compartments();
  main.append(
    scanPanel(refresh, places) ?? "",
    approvals?.node ?? "",
    section("stock.balances", warnings, balances, el("p", { class: "links" }, el("a", { class: "button", href: "/requisition", id: "requisition-link" }, t("stock.requisition_link")))),
    places ? contentsPanel(places) : "",
    stocktakePanel(refresh) ?? "",
  );
  if (may("upload_view")) main.append(await uploadPanel());
  every(BALANCES_MS, refresh);
});
