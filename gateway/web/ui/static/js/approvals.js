// Returns and scraps waiting for the upper level: who asked, why, which packages; an approver
// approves or refuses each pending one, the requester sees how it was decided.

import { api, el, errorNode, formatTime, may, section, t, table } from "./core.js";

const BASE = "/api/ledger/stock/requests";

function state(row) {
  if (row.decision === null || row.decision === undefined) return t("approvals.pending");
  const who = row.decided_by_name ?? "";
  return t(row.decision === "approved" ? "approvals.approved" : "approvals.rejected", { who });
}

// `decided` runs after a decision, to redraw the list and the balances it changed.
function decisionButtons(row, decided) {
  if (!may("stock_approve") || (row.decision !== null && row.decision !== undefined)) return null;
  const result = el("span", { class: "result", role: "status" });
  const decide = async (approve) => {
    result.className = "result";
    result.textContent = t("common.working");
    try {
      await api(`${BASE}/${encodeURIComponent(row.approval_id)}/decision`, { method: "POST", body: { approve } });
      await decided();
    } catch (error) {
      result.className = "result error";
      result.replaceChildren(errorNode(error));
    }
  };
  return el(
    "span",
    { class: "actions" },
    el("button", { type: "button", class: "approve primary", on: { click: () => decide(true) } }, t("approvals.approve")),
    el("button", { type: "button", class: "refuse", on: { click: () => decide(false) } }, t("approvals.refuse")),
    result,
  );
}

// The panel and its refresh; null for a user who may neither ask nor decide.
export function approvalsPanel(changed) {
  if (!may("stock_approve") && !may("stock_request")) return null;
  const list = el("div", { id: "approvals" });
  const refresh = async () => {
    const body = await api(BASE);
    list.replaceChildren(
      table(
        [
          { label: "approvals.kind", value: (row) => t(`approvals.kind_${row.kind}`) },
          { label: "approvals.codes", value: (row) => el("code", {}, row.codes.join(", ")) },
          { label: "approvals.to_unit", value: (row) => row.to_unit || "—" },
          { label: "approvals.reason", value: (row) => (row.reason_code ? `${row.reason_code} · ${row.reason}` : row.reason) },
          { label: "approvals.requested", value: (row) => `${row.requested_by_name} · ${formatTime(row.requested_at)}` },
          { label: "approvals.state", value: (row) => el("span", { class: "state" }, state(row)) },
          { label: "approvals.decide", value: (row) => decisionButtons(row, changed) },
        ],
        body.requests,
        "approvals.none",
      ),
    );
  };
  return { node: section("approvals.title", list), refresh };
}
