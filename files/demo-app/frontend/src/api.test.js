import { describe, expect, it, vi } from 'vitest';
import { createItem, getInfo, listItems } from './api.js';
import { INFO, item, json, problem, stubApi } from '../test/http.js';

describe('getInfo', () => {
  it('GETs /api/info asking for JSON and returns the body', async () => {
    const fetchMock = stubApi({ 'GET /api/info': json(INFO) });

    await expect(getInfo()).resolves.toEqual(INFO);

    expect(fetchMock).toHaveBeenCalledTimes(1);
    const [path, options] = fetchMock.mock.calls[0];
    expect(path).toBe('/api/info');
    expect(options.method).toBeUndefined();
    expect(options.headers).toEqual({ Accept: 'application/json' });
  });

  it('throws the message of a problem document', async () => {
    stubApi({
      'GET /api/info': problem(503, 'Service Unavailable', 'database unreachable', '/api/info'),
    });

    await expect(getInfo()).rejects.toThrow(new Error('database unreachable'));
  });

  it('throws status and status text for a non-JSON error page (e.g. from a proxy)', async () => {
    stubApi({
      'GET /api/info': new Response('<html><body>502 Bad Gateway</body></html>', {
        status: 502,
        statusText: 'Bad Gateway',
        headers: { 'Content-Type': 'text/html' },
      }),
    });

    await expect(getInfo()).rejects.toThrow(new Error('502 Bad Gateway'));
  });

  it('throws status and status text for a JSON error without a message', async () => {
    stubApi({
      'GET /api/info': json({ error: 'Not Found' }, { status: 404, statusText: 'Not Found' }),
    });

    await expect(getInfo()).rejects.toThrow(new Error('404 Not Found'));
  });

  it('says to wait the Retry-After seconds when the edge rate-limits (429)', async () => {
    stubApi({
      'GET /api/info': json(
        { error: 'too_many_requests' },
        { status: 429, headers: { 'Retry-After': '3' } },
      ),
    });

    await expect(getInfo()).rejects.toThrow(
      new Error('Too many requests: please wait 3 s and try again.'),
    );
  });

  it('says to wait a moment on a 429 without a usable Retry-After', async () => {
    stubApi({
      'GET /api/info': json({ error: 'too_many_requests' }, { status: 429 }),
    });

    await expect(getInfo()).rejects.toThrow(
      new Error('Too many requests: please wait a moment and try again.'),
    );
  });

  it('passes a network failure on', async () => {
    vi.stubGlobal('fetch', vi.fn().mockRejectedValue(new TypeError('Failed to fetch')));

    await expect(getInfo()).rejects.toThrow(new TypeError('Failed to fetch'));
  });
});

describe('listItems', () => {
  it('returns the items and the X-Cache header', async () => {
    const items = [item(2, 'second', 'with text'), item(1, 'first')];
    stubApi({ 'GET /api/items': json(items, { headers: { 'X-Cache': 'HIT' } }) });

    await expect(listItems()).resolves.toEqual({ items, cache: 'HIT' });
  });

  it('says "unknown" when the answer has no X-Cache header', async () => {
    stubApi({ 'GET /api/items': json([item(1, 'first')]) });

    const { cache } = await listItems();

    expect(cache).toBe('unknown');
  });

  it('returns an empty list for a successful answer without a JSON body', async () => {
    stubApi({ 'GET /api/items': new Response(null, { status: 200, headers: { 'X-Cache': 'MISS' } }) });

    await expect(listItems()).resolves.toEqual({ items: [], cache: 'MISS' });
  });

  it('throws the message of a problem document', async () => {
    stubApi({
      'GET /api/items': problem(503, 'Service Unavailable', 'The database is not reachable.'),
    });

    await expect(listItems()).rejects.toThrow(new Error('The database is not reachable.'));
  });
});

describe('createItem', () => {
  it('POSTs name and description as JSON and returns the stored item', async () => {
    const stored = item(21, 'new', 'details');
    const fetchMock = stubApi({
      'POST /api/items': json(stored, { status: 201, headers: { Location: '/api/items/21' } }),
    });

    await expect(createItem('new', 'details')).resolves.toEqual(stored);

    const [path, options] = fetchMock.mock.calls[0];
    expect(path).toBe('/api/items');
    expect(options.method).toBe('POST');
    expect(options.headers).toEqual({
      Accept: 'application/json',
      'Content-Type': 'application/json',
    });
    expect(JSON.parse(options.body)).toEqual({ name: 'new', description: 'details' });
  });

  it('leaves an empty description out of the payload', async () => {
    const fetchMock = stubApi({ 'POST /api/items': json(item(22, 'bare'), { status: 201 }) });

    await createItem('bare', '');

    expect(JSON.parse(fetchMock.mock.calls[0][1].body)).toEqual({ name: 'bare' });
  });

  it('throws the validation message of a 400 problem document', async () => {
    const body = {
      title: 'Bad Request',
      status: 400,
      detail: 'name: must be 1 to 200 characters',
      instance: '/api/items',
      message: 'name: must be 1 to 200 characters',
      errors: [{ field: 'name', message: 'must be 1 to 200 characters' }],
    };
    stubApi({
      'POST /api/items': new Response(JSON.stringify(body), {
        status: 400,
        headers: { 'Content-Type': 'application/problem+json' },
      }),
    });

    await expect(createItem('', '')).rejects.toThrow(new Error('name: must be 1 to 200 characters'));
  });

  it('says to wait when the edge rate-limits the POST (429)', async () => {
    stubApi({
      'POST /api/items': json(
        { error: 'too_many_requests' },
        { status: 429, headers: { 'Retry-After': '1' } },
      ),
    });

    await expect(createItem('x', '')).rejects.toThrow(
      new Error('Too many requests: please wait 1 s and try again.'),
    );
  });

  it('passes a network failure on', async () => {
    vi.stubGlobal('fetch', vi.fn().mockRejectedValue(new TypeError('NetworkError when attempting to fetch resource.')));

    await expect(createItem('x', '')).rejects.toThrow('NetworkError when attempting to fetch resource.');
  });
});
