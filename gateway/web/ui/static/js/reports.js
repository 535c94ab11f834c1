// The clinic's monthly report, for the manager, the heads and the county: generated on
// request for a month, opened as its printable page or kept as a file (no frame: every answer
// refuses framing).

import { clinicDay, el, section, start, t } from "./core.js";

function lastMonth() {
  const [year, month] = clinicDay().slice(0, 7).split("-").map(Number);
  return month === 1 ? `${year - 1}-12` : `${year}-${String(month - 1).padStart(2, "0")}`;
}

start(async (main) => {
  const month = el("input", { type: "month", id: "report-month", name: "month", value: lastMonth(), required: true });
  const links = el("p", { class: "links", id: "report-links" });
  const show = (event) => {
    event?.preventDefault();
    const base = `/api/reports/monthly/${encodeURIComponent(month.value)}`;
    links.replaceChildren(
      el("a", { class: "button", href: base, target: "_blank", rel: "noopener" }, t("report.open")),
      el("a", { class: "button", href: `${base}?download=1`, id: "report-download" }, t("report.download")),
    );
  };
  const pick = el(
    "form",
    { class: "form", id: "report-form", on: { submit: show } },
    el("label", {}, el("span", {}, t("report.month")), month),
    el("button", { type: "submit" }, t("report.generate")),
  );
  main.append(el("h1", {}, t("nav.reports")), section("report.title", el("p", { class: "muted" }, t("report.intro")), pick, links));
});
