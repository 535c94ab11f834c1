// Accounts, for the admin: who may sign in with which roles, their alarm person, a new
// password, disabling, and the API tokens of machines (county sync, scan stations).

import { api, el, form, formatTime, section, start, t, table } from "./core.js";

const ROLES = ["manager", "vaccinator", "technician", "head", "unit_head", "county", "admin"];

function roleOptions() {
  return ROLES.map((role) => [role, t(`role.${role}`)]);
}

function personOptions(people) {
  return [["", t("accounts.no_person")], ...Object.entries(people).map(([id, name]) => [id, name])];
}

// One account's changes: roles, names, alarm person, a new password, disable or enable.
function editor(account, people, refresh) {
  const change = form(
    [
      { name: "display_name", label: "accounts.display_name", value: account.display_name },
      { name: "person", label: "accounts.person", options: personOptions(people), value: account.person ?? "" },
      { name: "roles", label: "accounts.roles", type: "checkboxes", options: roleOptions(), value: account.roles },
    ],
    async (values) => {
      await api(`/api/accounts/${encodeURIComponent(account.name)}`, {
        method: "PATCH",
        body: { display_name: values.display_name ?? "", person: values.person ?? null, roles: values.roles },
      });
      await refresh();
      return t("accounts.saved");
    },
    { button: "accounts.save", id: `edit-${account.name}` },
  );
  const password = form(
    [{ name: "password", label: "accounts.new_password", type: "password", required: true, autocomplete: "new-password" }],
    async (values) => {
      await api(`/api/accounts/${encodeURIComponent(account.name)}/password`, { method: "POST", body: values });
      return t("accounts.password_set");
    },
    { button: "accounts.reset", id: `password-${account.name}` },
  );
  const toggle = el(
    "button",
    {
      type: "button",
      class: account.disabled ? "enable" : "disable",
      on: {
        click: async () => {
          await api(`/api/accounts/${encodeURIComponent(account.name)}`, { method: "PATCH", body: { disabled: !account.disabled } });
          await refresh();
        },
      },
    },
    t(account.disabled ? "accounts.enable" : "accounts.disable"),
  );
  return el("details", { class: "edit" }, el("summary", {}, t("accounts.edit")), change, password, toggle);
}

function newAccount(people, refresh) {
  return form(
    [
      { name: "name", label: "accounts.name", required: true },
      { name: "display_name", label: "accounts.display_name", required: true },
      { name: "password", label: "accounts.password", type: "password", required: true, autocomplete: "new-password" },
      { name: "person", label: "accounts.person", options: personOptions(people), value: "" },
      { name: "roles", label: "accounts.roles", type: "checkboxes", options: roleOptions(), value: [] },
    ],
    async (values, node) => {
      const account = await api("/api/accounts", { method: "POST", body: { ...values, person: values.person ?? null } });
      node.reset();
      await refresh();
      return t("accounts.created", { name: account.display_name || account.name });
    },
    { button: "accounts.create", id: "account-form" },
  );
}

function tokens(list, accounts, refresh) {
  const revoke = (token) =>
    token.revoked_at
      ? t("accounts.revoked")
      : el("button", { type: "button", class: "revoke", on: { click: async () => { await api(`/api/tokens/${token.id}`, { method: "DELETE" }); await refresh(); } } }, t("accounts.revoke"));
  const secret = el("p", { class: "secret", role: "status" });
  const create = form(
    [
      { name: "account", label: "accounts.token_account", options: accounts.map((a) => [a.name, a.display_name || a.name]), required: true },
      { name: "name", label: "accounts.token_name", required: true },
      { name: "days", label: "accounts.token_days", type: "number", value: 90, required: true },
    ],
    async (values) => {
      const made = await api("/api/tokens", { method: "POST", body: values });
      secret.replaceChildren(t("accounts.token_once"), " ", el("code", {}, made.token));
      await refresh();
      return t("common.done");
    },
    { button: "accounts.token_create", id: "token-form" },
  );
  const names = new Map(accounts.map((a) => [a.name, a.display_name || a.name]));
  return [
    table(
      [
        { label: "accounts.token_name", value: (row) => row.name },
        { label: "accounts.token_account", value: (row) => names.get(row.account) ?? row.account },
        { label: "accounts.expires", value: (row) => formatTime(row.expires_at) },
        { label: "accounts.last_used", value: (row) => formatTime(row.last_used_at) },
        { label: "accounts.state", value: revoke },
      ],
      list,
    ),
    el("h3", {}, t("accounts.token_create")),
    create,
    secret,
  ];
}

start(async (main) => {
  const list = el("div", { id: "accounts" });
  const tokenList = el("div", { id: "tokens" });
  const alarms = await api("/api/alarms?recent=0").catch(() => ({ people: {} }));
  const people = alarms.people ?? {};
  const refresh = async () => {
    const [{ accounts }, { tokens: issued }] = await Promise.all([api("/api/accounts"), api("/api/tokens")]);
    list.replaceChildren(
      table(
        [
          { label: "accounts.display_name", value: (row) => row.display_name || row.name },
          { label: "accounts.name", value: (row) => row.name },
          { label: "accounts.roles", value: (row) => row.roles.map((role) => t(`role.${role}`)).join("、") },
          { label: "accounts.person", value: (row) => (row.person ? people[row.person] ?? row.person : "—") },
          { label: "accounts.state", value: (row) => t(row.disabled ? "accounts.disabled" : "accounts.active") },
          { label: "accounts.edit", value: (row) => editor(row, people, refresh) },
        ],
        accounts,
      ),
    );
    tokenList.replaceChildren(...tokens(issued, accounts, refresh));
  };
  main.append(
    el("h1", {}, t("nav.accounts")),
    section("accounts.list", list),
    section("accounts.new", newAccount(people, refresh)),
    section("accounts.tokens", tokenList),
  );
  await refresh();
});
