// The requisition plan of a month: last month's use, wastage, what is needed, usable stock
// and the proposed doses per vaccine; printable and as CSV; the county reviews it.

import { ApiError, api, clinicDay, el, form, formatTime, may, section, start, t, table } from "./core.js";

function nextMonth() {
  const [year, month] = clinicDay().slice(0, 7).split("-").map(Number);
  return month === 12 ? `${year + 1}-01` : `${year}-${String(month + 1).padStart(2, "0")}`;
}

function planTable(plan) {
  const number = (key) => (row) => String(row[key]);
  return table(
    [
      { label: "req.vaccine", value: (row) => row.name || row.vaccine_code },
      { label: "req.used", value: number("used_doses") },
      { label: "req.wastage", value: (row) => `${Math.round(row.wastage * 100)} %` },
      { label: "req.need", value: number("need_doses") },
      { label: "req.stock", value: number("stock_doses") },
      { label: "req.expiring", value: number("expiring_doses") },
      { label: "req.quarantined", value: number("quarantined_doses") },
      { label: "req.usable", value: number("usable_doses") },
      { label: "req.proposed", value: (row) => el("strong", {}, String(row.proposed_doses)) },
    ],
    plan.lines,
    "req.no_lines",
  );
}

start(async (main) => {
  const shown = el("div", { id: "plan" });
  const month = el("input", { type: "month", id: "plan-month", value: nextMonth(), "aria-label": t("req.month") });
  const draw = async () => {
    const base = `/api/ledger/requisition/${encodeURIComponent(month.value)}`;
    let plan;
    try {
      plan = await api(base);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && error.code === "not_found") {
        shown.replaceChildren(el("p", { class: "muted" }, t("req.not_installed")));
        return;
      }
      throw error;
    }
    const state = plan.reviewed_by
      ? t("req.reviewed", { who: plan.reviewed_by, at: formatTime(plan.reviewed_at), note: plan.note || "—" })
      : t("req.proposed_state");
    shown.replaceChildren(
      el("p", { class: "summary" }, t("req.based_on", { month: plan.month, based: plan.based_on }), " · ", state),
      planTable(plan),
      el(
        "p",
        { class: "links" },
        el("a", { class: "button", href: `${base}?format=html`, target: "_blank", rel: "noopener" }, t("req.print")),
        el("a", { class: "button", href: `${base}?format=csv` }, t("req.csv")),
      ),
      may("stock_approve")
        ? form(
            [{ name: "note", label: "req.note" }],
            async (values) => {
              await api(`${base}/review`, { method: "POST", body: { note: values.note ?? "" } });
              await draw();
              return t("req.review_done");
            },
            { button: "req.review", id: "review-form" },
          )
        : null,
    );
  };
  month.addEventListener("change", () => draw());
  main.append(el("h1", {}, t("req.title")), section("req.month", el("div", { class: "tabs" }, month), shown));
  await draw();
});
