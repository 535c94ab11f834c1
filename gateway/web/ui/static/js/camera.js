// Scanning with a phone's camera: a button beside each scan field opens the rear camera in a
// dialog, reads Chinese trace codes (Code 128) and GS1 DataMatrix from its frames, and hands
// the text to the field's own submit, as a hand scanner would send it. The camera stops on a
// read, on close and when the page is hidden. The decoder is the browser's BarcodeDetector
// where it reads both formats, else zxing-wasm (vendored: tests/ui/zxing.py), loaded on the
// first press only.

import { el, t } from "./core.js";

const CAMERA_DECODER = "/static/vendor/zxing-wasm-3.1.8/dist";
const FRAME_MS = 150;
// AIM symbology identifiers of GS1 symbols (as ledger/codes.py knows them): a hand scanner
// sends one before a GS1 element string, and the server reads the string as GS1 by it.
const GS1_SYMBOLOGIES = new Set(["]d2", "]C1", "]Q3", "]e0", "]J1"]);
const GS = "\x1d";

// A read as a hand scanner sends it: the text, FNC1 separators as GS, and the GS1 symbology
// identifier in front of a GS1 element string. Other codes go as their text alone.
export function scannerText({ text, symbology = "", format = "" }) {
  if (GS1_SYMBOLOGIES.has(symbology)) return symbology + text;
  if (format === "data_matrix") {
    // A native detector names no symbology. A leading FNC1 (shown as GS) marks GS1; so does
    // a GTIN (AI 01) opening the text, as every GS1 DataMatrix of a drug package does.
    if (text.startsWith(GS)) return `]d2${text.slice(1)}`;
    if (/^01[0-9]{14}/.test(text)) return `]d2${text}`;
  }
  return text;
}

// The browser's own detector when it reads both formats (Android, macOS), else null.
async function nativeDetector() {
  if (!("BarcodeDetector" in window)) return null;
  const formats = await window.BarcodeDetector.getSupportedFormats();
  if (!formats.includes("code_128") || !formats.includes("data_matrix")) return null;
  const detector = new window.BarcodeDetector({ formats: ["code_128", "data_matrix"] });
  return async (video) => {
    const [found] = await detector.detect(video);
    return found ? scannerText({ text: found.rawValue, format: found.format }) : null;
  };
}

// zxing-wasm from this gateway (its default would fetch the WebAssembly from the internet).
async function zxingDetector() {
  const zxing = await import(`${CAMERA_DECODER}/es/reader/index.js`);
  await zxing.prepareZXingModule({
    overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? `${CAMERA_DECODER}/reader/${path}` : prefix + path) },
    fireImmediately: true,
  });
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const options = { formats: ["Code128", "DataMatrix"], textMode: "Plain", tryHarder: true, maxNumberOfSymbols: 1 };
  return async (video) => {
    if (!video.videoWidth) return null;
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0);
    const [found] = await zxing.readBarcodes(context.getImageData(0, 0, canvas.width, canvas.height), options);
    return found ? scannerText({ text: found.text, symbology: found.symbologyIdentifier }) : null;
  };
}

let detectorLoading = null;

function detector() {
  detectorLoading ??= nativeDetector()
    .then((found) => found ?? zxingDetector())
    .catch((error) => {
      detectorLoading = null;
      throw Object.assign(new Error(t("camera.decoder_failed", { detail: error.message })), { said: true });
    });
  return detectorLoading;
}

// Why the camera cannot open, in the reader's words.
function cameraProblem(error) {
  if (error.said) return error.message;
  const name = error.name;
  if (name === "NotAllowedError" || name === "SecurityError") return t("camera.denied");
  if (name === "NotFoundError" || name === "OverconstrainedError") return t("camera.none");
  if (name === "NotReadableError" || name === "AbortError") return t("camera.busy");
  return t("camera.failed", { detail: error.message || name });
}

// The button (and, beside it, what went wrong). `onCode(text)` is the field's own submit.
export function cameraButton(onCode) {
  const note = el("span", { class: "camera-note", role: "status" });
  const button = el("button", { type: "button", class: "camera-button" }, t("camera.open"));
  const title = el("h2", {}, t("camera.title"));
  const video = el("video", { playsinline: true, "aria-hidden": "true" });
  video.muted = true;
  const status = el("p", { class: "camera-status", role: "status" });
  const close = el("button", { type: "button", class: "camera-close" }, t("camera.close"));
  const dialog = el("dialog", { class: "camera" }, title, el("div", { class: "viewfinder" }, video, el("div", { class: "aim", "aria-hidden": "true" })), status, close);
  const id = `camera-${Math.random().toString(36).slice(2, 10)}`;
  title.id = `${id}-title`;
  dialog.setAttribute("aria-labelledby", title.id);
  let stream = null;
  let timer = null;

  const stop = () => {
    clearTimeout(timer);
    timer = null;
    for (const track of stream?.getTracks() ?? []) track.stop();
    stream = null;
    video.srcObject = null;
  };
  const finish = (problem) => {
    stop();
    if (dialog.open) dialog.close();
    note.textContent = problem ?? "";
    note.hidden = !problem;
    if (problem) button.setAttribute("aria-describedby", note.id);
    else button.removeAttribute("aria-describedby");
  };
  note.id = `${id}-note`;
  note.hidden = true;

  const scan = async (read) => {
    if (!stream) return;
    let text = null;
    try {
      text = await read(video);
    } catch (error) {
      console.warn("camera frame not read:", error);
    }
    if (!stream) return;
    if (text) {
      finish(null);
      onCode(text);
      return;
    }
    timer = setTimeout(() => scan(read), FRAME_MS);
  };

  button.addEventListener("click", async () => {
    if (!window.isSecureContext) return finish(t("camera.needs_https"));
    if (!navigator.mediaDevices?.getUserMedia) return finish(t("camera.unsupported"));
    finish(null);
    status.textContent = t("camera.starting");
    dialog.showModal();
    try {
      const reading = detector();
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      video.srcObject = stream;
      await video.play();
      const read = await reading;
      if (!dialog.open) return stop();
      status.textContent = t("camera.aim");
      scan(read);
    } catch (error) {
      // Closed while the camera was starting: nothing went wrong, nothing to say.
      finish(dialog.open ? cameraProblem(error) : null);
    }
  });
  close.addEventListener("click", () => finish(null));
  dialog.addEventListener("close", stop);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden && dialog.open) finish(null);
  });
  window.addEventListener("pagehide", stop);
  return el("span", { class: "camera-scan" }, button, note, dialog);
}
