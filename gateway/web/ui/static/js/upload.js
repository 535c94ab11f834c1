// Upload status of the vaccination records and circulation messages to the provincial
// platform: the queue, the deadline alarms, the refusals with their messages counted by kind
// (a refused circulation message may be sent again), and today's rates.

import { api, clinicDay, el, formatTime, may, section, t, table } from "./core.js";

// Send a refused circulation message again, as it is (the platform fixed its dictionary).
function resendButton(row) {
  if (row.type === "dose" || !may("stock_issue")) return "";
  const result = el("span", { class: "result", role: "status" });
  const button = el("button", { type: "button", class: "resend" }, t("upload.resend"));
  button.addEventListener("click", async () => {
    try {
      const answer = await api(`/api/ledger/upload/circulation/${encodeURIComponent(row.record_id)}/correction`, { method: "POST", body: {} });
      result.textContent = t("upload.resent", { version: answer.version });
      button.disabled = true;
    } catch (error) {
      result.textContent = error.message;
    }
  });
  return el("span", {}, button, result);
}

function percent(rate) {
  return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)} %`;
}

export async function uploadPanel() {
  const [queue, refused, rates] = await Promise.all([
    api("/api/ledger/upload/queue"),
    api("/api/ledger/upload/rejections"),
    api(`/api/ledger/upload/rates?day=${clinicDay()}`),
  ]);
  return section(
    "upload.title",
    el(
      "p",
      { class: "summary", id: "upload-summary" },
      t("upload.summary", {
        mode: t(queue.realtime ? "upload.realtime" : "upload.batch"),
        pending: queue.pending.length,
        rejected: queue.rejected,
        rate: percent(rates.upload_rate),
        timely: percent(rates.timeliness_rate),
      }),
    ),
    queue.deadline_alarms.length ? el("h3", { class: "flag" }, t("upload.deadlines")) : null,
    queue.deadline_alarms.length
      ? table(
          [
            { label: "upload.record", value: (row) => `${row.record_id} v${row.version}` },
            { label: "upload.deadline", value: (row) => formatTime(row.deadline) },
            { label: "upload.state", value: (row) => row.state },
            { label: "upload.error", value: (row) => row.error ?? "" },
          ],
          queue.deadline_alarms,
        )
      : null,
    el("h3", {}, t("upload.rejections")),
    el(
      "p",
      { class: "summary", id: "upload-by-kind" },
      Object.entries(refused.by_kind)
        .map(([kind, count]) => `${t(`upload.kind_${kind}`)} ${count}`)
        .join("；"),
    ),
    table(
      [
        { label: "upload.type", value: (row) => t(`upload.type_${row.type}`) },
        { label: "upload.record", value: (row) => `${row.record_id} v${row.version}` },
        { label: "upload.kind", value: (row) => t(`upload.kind_${row.kind}`) },
        { label: "upload.message", value: (row) => row.message },
        { label: "upload.action", value: resendButton },
      ],
      refused.rejections,
    ),
  );
}
