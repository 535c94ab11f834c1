// The audit log: who did what, when, newest first, a page at a time.

import { api, el, formatTime, section, start, t, table } from "./core.js";

const PAGE = 100;

start(async (main) => {
  const rows = el("div", { id: "audit" });
  const more = el("button", { type: "button", id: "audit-more" }, t("audit.more"));
  let entries = [];
  const load = async (before) => {
    const query = new URLSearchParams({ limit: String(PAGE), ...(before ? { before: String(before) } : {}) });
    const body = await api(`/api/audit?${query}`);
    entries = entries.concat(body.entries);
    more.hidden = body.entries.length < PAGE;
    rows.replaceChildren(
      table(
        [
          { label: "audit.at", value: (row) => formatTime(row.at, true) },
          { label: "audit.user", value: (row) => row.user_display ?? row.user ?? "—" },
          { label: "audit.what", value: (row) => row.summary || `${row.method} ${row.path}` },
          { label: "audit.status", value: (row) => String(row.status) },
        ],
        entries,
      ),
    );
  };
  more.addEventListener("click", () => load(entries.at(-1)?.id));
  main.append(el("h1", {}, t("nav.audit")), section("audit.title", rows, more));
  await load(null);
});
