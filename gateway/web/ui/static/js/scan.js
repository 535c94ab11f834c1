// A scan box: a keyboard-wedge scanner types the code into the focused input and presses
// Enter, or the phone's camera reads it (its text goes the same way). Each scan gets its own
// event id so a repeated request has one effect.

import { cameraButton } from "./camera.js";
import { beep, el, errorNode, t } from "./core.js";

// Not crypto.randomUUID: that needs HTTPS, and the gateway is usually reached over plain HTTP.
export function eventId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

// onScan(code) -> a string to show on success, or {text, facts: [what was scanned]}; a thrown
// error's message is shown instead.
export function scanBox(id, onScan) {
  const input = el("input", { id, type: "text", autocomplete: "off", autofocus: true, placeholder: t("scan.placeholder"), "aria-label": t("scan.placeholder") });
  const log = el("ol", { class: "scan-log", reversed: true });
  // One path for every scan, typed, from a hand scanner or from the camera.
  const submit = async (text) => {
    const code = text.trim();
    if (!code) return;
    // Accepted and refused differ in shape (mark, border) and sound, not in colour alone.
    const mark = el("span", { class: "mark", "aria-hidden": "true" }, "…");
    const line = el("li", {}, mark, el("code", {}, code), " ", el("span", {}, t("common.working")));
    log.prepend(line);
    try {
      const answer = await onScan(code);
      line.lastChild.textContent = typeof answer === "string" ? answer : answer.text;
      line.lastChild.className = "ok";
      if (answer.facts?.length) line.append(el("span", { class: "facts" }, answer.facts.join(" · ")));
      line.className = "accepted";
      mark.textContent = "✓";
      beep([1320], 0.12);
    } catch (error) {
      line.lastChild.replaceWith(errorNode(error));
      line.className = "refused";
      mark.textContent = "✗";
      beep([220, 180], 0.25);
    }
    input.focus();
  };
  input.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const text = input.value;
    input.value = "";
    submit(text);
  });
  return { input, node: el("div", {}, el("div", { class: "scan" }, input, cameraButton(submit)), log) };
}
