// Same-origin, relative URLs only: nginx serves this SPA and proxies /api to the backend.

async function request(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: { Accept: 'application/json', ...(options.headers || {}) },
  });
  let body = null;
  try {
    body = await res.json();
  } catch {
    // Non-JSON answer (e.g. an HTML error page from a proxy); handled below.
  }
  if (res.status === 429) {
    // The edge's rate limit (JSON body without a message); Retry-After is in seconds.
    const seconds = Number.parseInt(res.headers.get('Retry-After'), 10);
    const wait = Number.isFinite(seconds) && seconds > 0 ? `${seconds} s` : 'a moment';
    throw new Error(`Too many requests: please wait ${wait} and try again.`);
  }
  if (!res.ok) {
    const message = (body && body.message) || `${res.status} ${res.statusText}`;
    throw new Error(message);
  }
  return { body, headers: res.headers };
}

export async function getInfo() {
  return (await request('/api/info')).body;
}

export async function listItems() {
  const { body, headers } = await request('/api/items');
  return { items: body || [], cache: headers.get('X-Cache') || 'unknown' };
}

export async function createItem(name, description) {
  const payload = { name };
  if (description) payload.description = description;
  return (
    await request('/api/items', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(payload),
    })
  ).body;
}
