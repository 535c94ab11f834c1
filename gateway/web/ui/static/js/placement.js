// Where stock is (#10): the compartment a receive or move scan puts a package in, and what a
// compartment held at any time. Only when the gateway tracks locations (excursions on).

import { api, available, el, form, section, t, table } from "./core.js";

const LAST_KEY = "coldchain_compartment";
// The clinic's offset; China keeps no summer time, so a clinic date-time is always +08:00.
const CLINIC_OFFSET = "+08:00";

// [{ref, label}] for every compartment, or null when locations are not tracked.
export async function compartments() {
  if (!(await available("/api/ledger/quarantine"))) return null;
  const fridges = await api("/api/fridges");
  return fridges.map((row) => ({ ref: row.ref, label: `${row.fridge_name} ${row.compartment} (${row.ref})` }));
}

// A select of compartments, starting at the last one chosen in this browser; `blank` labels
// the empty choice.
export function compartmentSelect(places, blank) {
  const last = localStorage.getItem(LAST_KEY);
  const select = el(
    "select",
    { id: "scan-compartment", "aria-label": t("stock.compartment") },
    el("option", { value: "" }, t(blank)),
    places.map((place) => el("option", { value: place.ref, selected: place.ref === last }, place.label)),
  );
  select.addEventListener("change", () => localStorage.setItem(LAST_KEY, select.value));
  return select;
}

function unitsTable(units) {
  return table(
    [
      { label: "stock.product_id", value: (unit) => unit.product_id },
      { label: "stock.batch", value: (unit) => unit.batch_no },
      { label: "stock.code", value: (unit) => unit.code },
      { label: "stock.doses_left", value: (unit) => String(unit.doses_left) },
    ],
    units,
  );
}

// Pick a compartment and, optionally, a past date-time at the clinic: the packages in it then.
export function contentsPanel(places) {
  const shown = el("div", { id: "contents" });
  const ask = form(
    [
      { name: "compartment", label: "stock.compartment", required: true, options: places.map((place) => [place.ref, place.label]) },
      { name: "at", label: "stock.contents_at", type: "datetime-local", step: 1 },
    ],
    async (values) => {
      const query = new URLSearchParams({ compartment: values.compartment });
      if (values.at) query.set("at", `${values.at}${CLINIC_OFFSET}`);
      const body = await api(`/api/ledger/stock/contents?${query}`);
      shown.replaceChildren(unitsTable(body.units));
      return t("stock.contents_summary", { compartment: body.compartment_name, packages: body.packages, doses: body.doses });
    },
    { button: "stock.contents_show", id: "contents-form" },
  );
  return section("stock.contents", ask, shown);
}
