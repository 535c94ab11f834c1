// Probes that are not on a Modbus bus: Bluetooth sensors heard nearby and the serial ports of
// this gateway (USB loggers), each with the probe it is bound to, if any.

import { ApiError, api, el, form, section, t, table } from "./core.js";

const BASE = "/api/commissioning/discover";
const DEFAULT_SECONDS = 5;
const MAX_SECONDS = 30;

function value(number, unit = "") {
  return number === null || number === undefined ? "—" : `${number}${unit}`;
}

function bound(row) {
  return row.bound_to ?? t("tech.free");
}

// 503: the scan could not run (no adapter); the server's message, shown as the result, says
// how to fix it.
function unavailable(error, into) {
  if (!(error instanceof ApiError) || error.status !== 503) throw error;
  into.replaceChildren(el("p", { class: "flag" }, t("tech.no_adapter")));
  return error.message;
}

function bleForm() {
  const result = el("div", { id: "ble-found" });
  const node = form(
    [{ name: "seconds", label: "tech.ble_seconds", type: "number", min: 1, max: MAX_SECONDS, value: DEFAULT_SECONDS, required: true }],
    async (values) => {
      let body;
      try {
        body = await api(`${BASE}/ble?seconds=${values.seconds}`);
      } catch (error) {
        return { text: unavailable(error, result), warn: true };
      }
      result.replaceChildren(
        table(
          [
            { label: "tech.mac", value: (row) => el("code", {}, row.mac) },
            { label: "tech.ble_channel", value: (row) => row.channel || "—" },
            { label: "tech.ble_name", value: (row) => row.name ?? "—" },
            { label: "tech.ble_format", value: (row) => row.format },
            { label: "tech.rssi", value: (row) => `${row.rssi} dBm` },
            { label: "tech.reading", value: (row) => value(row.temperature, " °C") },
            { label: "tech.humidity", value: (row) => value(row.humidity, " %") },
            { label: "tech.battery", value: (row) => value(row.battery, " %") },
            { label: "tech.bound_to", value: bound },
          ],
          body.sensors,
          "tech.none_heard",
        ),
      );
      return t("tech.heard", { count: body.sensors.length, adapter: body.adapter, seconds: body.seconds });
    },
    { button: "tech.ble_listen", id: "ble-form" },
  );
  return el("div", {}, node, result);
}

function serialForm() {
  const result = el("div", { id: "serial-found" });
  const node = form(
    [],
    async () => {
      const body = await api(`${BASE}/serial`);
      result.replaceChildren(
        table(
          [
            { label: "tech.port", value: (row) => el("code", {}, row.stable ?? row.device) },
            { label: "tech.device", value: (row) => row.device },
            { label: "tech.description", value: (row) => row.description || "—" },
            { label: "tech.serial_number", value: (row) => row.serial_number ?? "—" },
            { label: "tech.vid_pid", value: (row) => row.vid_pid ?? "—" },
            { label: "tech.bound_to", value: bound },
          ],
          body.ports,
          "tech.no_ports",
        ),
      );
      return t("tech.ports_found", { count: body.ports.length });
    },
    { button: "tech.serial_list", id: "serial-form" },
  );
  return el("div", {}, node, result);
}

export function nearbyPanel() {
  return section(
    "tech.nearby",
    el("h3", {}, t("tech.ble_title")),
    bleForm(),
    el("h3", {}, t("tech.serial_title")),
    serialForm(),
  );
}
