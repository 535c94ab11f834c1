// The service worker: the pages open when the gateway is out of reach, with the last data
// they showed and its age. Network first, always; a copy of each page, static file and of
// the fridges and alarms (no personal data) is kept for that case only. An answer from the
// copy carries X-Coldchain-Saved-At, which the page shows as the data's age.

const CACHE = "coldchain-v1";
const KEPT_API = ["/api/fridges", "/api/alarms"];

function kept(url, request) {
  if (request.method !== "GET" || url.origin !== self.location.origin) return false;
  if (url.pathname.startsWith("/api/")) return KEPT_API.includes(url.pathname);
  return request.mode === "navigate" || url.pathname.startsWith("/static/");
}

async function saved(response) {
  const headers = new Headers(response.headers);
  headers.set("X-Coldchain-Saved-At", new Date().toISOString());
  return new Response(await response.clone().blob(), { status: response.status, headers });
}

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected) await cache.put(request, await saved(response));
    return response;
  } catch (error) {
    const copy = await cache.match(request, { ignoreSearch: request.mode === "navigate" });
    if (copy) return copy;
    throw error;
  }
}

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (kept(url, event.request)) event.respondWith(networkFirst(event.request));
});
self.addEventListener("message", (event) => {
  if (event.data === "forget") event.waitUntil(caches.delete(CACHE));
});
