// Fake answers of the backend, shaped like the real API (backend/README.md): real fetch Response
// objects, so status, ok, headers and json() behave as they do in the browser.
import { vi } from 'vitest';

export function json(body, { status = 200, statusText = '', headers = {} } = {}) {
  return new Response(JSON.stringify(body), {
    status,
    statusText,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

// An RFC 9457 problem document as the backend sends it: `message` repeats `detail`.
export function problem(status, title, detail, instance = '/api/items') {
  return new Response(
    JSON.stringify({ title, status, detail, instance, message: detail }),
    { status, statusText: title, headers: { 'Content-Type': 'application/problem+json' } },
  );
}

export function item(id, name, description = null) {
  return { id, name, description, createdAt: `2026-01-02T03:04:0${id % 10}.123456Z` };
}

export const INFO = { version: '1.4.2', instance: 'backend-7f9c', startedAt: '2026-01-02T03:00:00Z' };

// A promise whose settlement the test controls, to look at the page while a request is in flight.
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

// Installs a fetch mock that routes "METHOD /path" to a handler: a Response (a fresh copy on every
// call), or a function of the request options returning a Response or a promise of one. A request
// to any other route rejects, so an unexpected call fails the test.
export function stubApi(routes) {
  const fetchMock = vi.fn(async (path, options = {}) => {
    const key = `${options.method || 'GET'} ${path}`;
    const handler = routes[key];
    if (!handler) throw new Error(`unexpected request ${key}`);
    return typeof handler === 'function' ? handler(options) : handler.clone();
  });
  vi.stubGlobal('fetch', fetchMock);
  return fetchMock;
}

export function calls(fetchMock, key) {
  return fetchMock.mock.calls.filter(([path, options = {}]) => `${options.method || 'GET'} ${path}` === key);
}
