// The service worker: the pages open when the gateway is out of reach, with the last data
// they showed and its age. Network first, always; a copy of each page, static file and of
// the fridges and alarms (no personal data) is kept for that case only. An answer from the
// copy carries X-Coldchain-Saved-At, which the page shows as the data's age. The vendored
// camera decoder (about 1 MB) never changes under its versioned folder: it is fetched once,
// when the camera is first used, and served from the copy after that.

const CACHE = "coldchain-v1";
const KEPT_API = ["/api/fridges", "/api/alarms"];
const VENDOR = "/static/vendor/";

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

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const copy = await cache.match(request);
  if (copy) return copy;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (!kept(url, event.request)) return;
  const vendored = url.pathname.startsWith(VENDOR);
  event.respondWith(vendored ? cacheFirst(event.request) : networkFirst(event.request));
});
self.addEventListener("message", (event) => {
  if (event.data === "forget") event.waitUntil(caches.delete(CACHE));
});
