// Upload status of the vaccination records to the provincial platform: the queue, the
// deadline alarms, the refusals with their messages, and today's rates.

import { api, clinicDay, el, formatTime, section, t, table } from "./core.js";

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
    table(
      [
        { label: "upload.record", value: (row) => `${row.record_id} v${row.version}` },
        { label: "upload.kind", value: (row) => row.kind },
        { label: "upload.message", value: (row) => row.message },
      ],
      refused.rejections,
    ),
  );
}
