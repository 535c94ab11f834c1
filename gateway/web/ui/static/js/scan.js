// A scan box: a keyboard-wedge scanner types the code into the focused input and presses
// Enter. Each scan gets its own event id so a repeated request has one effect.

import { el, t } from "./core.js";

// Not crypto.randomUUID: that needs HTTPS, and the gateway is usually reached over plain HTTP.
export function eventId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

// onScan(code) -> a string to show on success; a thrown error's message is shown instead.
export function scanBox(id, onScan) {
  const input = el("input", { id, type: "text", autocomplete: "off", autofocus: true, placeholder: t("scan.placeholder"), "aria-label": t("scan.placeholder") });
  const log = el("ol", { class: "scan-log", reversed: true });
  input.addEventListener("keydown", async (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const code = input.value.trim();
    input.value = "";
    if (!code) return;
    const line = el("li", {}, el("code", {}, code), " ", el("span", {}, t("common.working")));
    log.prepend(line);
    try {
      line.lastChild.textContent = await onScan(code);
      line.lastChild.className = "ok";
    } catch (error) {
      line.lastChild.textContent = error.message;
      line.lastChild.className = "error";
    }
    input.focus();
  });
  return { input, node: el("div", {}, el("div", { class: "scan" }, input), log) };
}
