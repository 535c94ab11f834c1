// Excursions and quarantine (#10): the packages held since an excursion exposed them, the
// excursions recorded, the stability data's proposal for a batch or package, and the
// disposition (usable or discard, with the VVM read); a discard asks to scrap what is on hand.

import { api, available, el, errorNode, every, form, formatTime, holdsBanner, may, reasonNode, section, session, start, t, table } from "./core.js";

const BASE = "/api/ledger";
const REFRESH_MS = 30000;

function minutes(value) {
  return value === null || value === undefined ? "—" : `${Math.round(value)} min`;
}

function celsius(value) {
  return value === null || value === undefined ? "—" : `${Number(value).toFixed(1)} °C`;
}

// Who or what recorded an excursion, in the reader's words: a person by name, an alarm by its number.
function excursionSource(row) {
  if (row.source_by_name) return t("excursions.on_demand_by", { name: row.source_by_name });
  if (row.source_alarm !== null && row.source_alarm !== undefined) return t("excursions.from_alarm", { no: row.source_alarm });
  return row.source;
}

function quarantineTable(body, pick) {
  return el(
    "div",
    {},
    el("p", { class: body.packages.length ? "summary warn" : "summary" }, t("excursions.held", { packages: body.packages.length, doses: body.doses })),
    table(
      [
        { label: "excursions.code", value: (row) => el("code", {}, row.code) },
        { label: "stock.product_id", value: (row) => row.product_id },
        { label: "stock.batch", value: (row) => row.batch_no },
        { label: "excursions.doses_left", value: (row) => String(row.doses_left) },
        { label: "excursions.reason", value: (row) => reasonNode(row.reason_code, row.params, row.reason) },
        {
          label: "excursions.decide",
          value: (row) => (pick ? el("button", { type: "button", class: "use", on: { click: () => pick(row) } }, t("excursions.pick")) : null),
        },
      ],
      body.packages,
      "excursions.none_held",
    ),
  );
}

function excursionsTable(rows) {
  return table(
    [
      { label: "excursions.compartment", value: (row) => row.compartment_name },
      { label: "excursions.window", value: (row) => `${formatTime(row.start)} – ${formatTime(row.end)}` },
      { label: "excursions.above", value: (row) => minutes(row.exposure.minutes_above) },
      { label: "excursions.below", value: (row) => minutes(row.exposure.minutes_below) },
      { label: "excursions.extremes", value: (row) => `${celsius(row.exposure.trough_c)} / ${celsius(row.exposure.peak_c)}` },
      { label: "excursions.exposed", value: (row) => t("excursions.exposed_count", { packages: row.packages, batches: row.batches, doses: row.doses }) },
      { label: "excursions.source", value: excursionSource },
    ],
    rows.slice().sort((a, b) => (a.start < b.start ? 1 : -1)),
    "excursions.none",
  );
}

function proposalView(made) {
  return el(
    "div",
    { class: "proposal" },
    el("p", { class: made.decision === "discard" ? "flag" : "summary" }, t("excursions.proposal_is", { decision: t(`excursions.decision_${made.decision}`), hours: made.hours_above })),
    el("ul", {}, made.reasons.map((reason) => el("li", {}, reason))),
  );
}

// The disposition form; its "proposal" button asks what the stability data says first.
function dispositionForm(changed) {
  const shown = el("div", { id: "proposal" });
  const node = form(
    [
      { name: "product_id", label: "stock.product_id", required: true },
      { name: "batch_no", label: "stock.batch", required: true },
      { name: "code", label: "excursions.code_optional" },
      { name: "vvm_stage", label: "excursions.vvm", type: "number", options: [["", t("excursions.vvm_unread")], ...[1, 2, 3, 4].map((n) => [String(n), String(n)])] },
      { name: "decision", label: "excursions.decision", required: true, options: [["usable", t("excursions.decision_usable")], ["discard", t("excursions.decision_discard")]] },
      { name: "decided_by", label: "excursions.decided_by", required: true, value: session.display },
      { name: "note", label: "excursions.note" },
    ],
    async (values) => {
      const done = await api(`${BASE}/excursions/dispositions`, { method: "POST", body: values });
      shown.replaceChildren(proposalView(done.proposal));
      await changed();
      if (done.scrap_approval_id) return t("excursions.discarded", { id: done.scrap_approval_id });
      return t("excursions.recorded", { count: done.excursions.length });
    },
    { button: "excursions.record", id: "disposition-form" },
  );
  const propose = async () => {
    const query = new URLSearchParams();
    for (const name of ["product_id", "batch_no", "code", "vvm_stage"]) {
      const value = node.elements[name].value.trim();
      if (value) query.set(name, value);
    }
    try {
      shown.replaceChildren(proposalView(await api(`${BASE}/excursions/proposal?${query}`)));
    } catch (error) {
      shown.replaceChildren(errorNode(error, "p"));
    }
  };
  node.insertBefore(el("button", { type: "button", id: "propose", on: { click: propose } }, t("excursions.propose")), node.querySelector("button[type=submit]"));
  const pick = (row) => {
    node.elements.product_id.value = row.product_id;
    node.elements.batch_no.value = row.batch_no;
    node.elements.code.value = row.code;
    node.scrollIntoView({ behavior: "smooth" });
    propose();
  };
  return { node: el("div", {}, node, shown), pick };
}

start(async (main) => {
  main.append(el("h1", {}, t("nav.excursions")), holdsBanner());
  if (!(await available(`${BASE}/quarantine`))) {
    main.append(el("p", { class: "muted" }, t("excursions.off")));
    return;
  }
  const held = el("div", { id: "quarantine" });
  const recorded = el("div", { id: "excursions" });
  const disposition = may("excursion_disposition") ? dispositionForm(() => refresh()) : null;
  const refresh = async () => {
    const [quarantine, excursions] = await Promise.all([api(`${BASE}/quarantine`), api(`${BASE}/excursions`)]);
    held.replaceChildren(quarantineTable(quarantine, disposition?.pick));
    recorded.replaceChildren(excursionsTable(excursions.excursions));
  };
  main.append(
    section("excursions.quarantine", held),
    disposition ? section("excursions.disposition", el("p", { class: "muted" }, t("excursions.disposition_hint")), disposition.node) : "",
    section("excursions.recorded_title", recorded),
  );
  every(REFRESH_MS, refresh);
});
