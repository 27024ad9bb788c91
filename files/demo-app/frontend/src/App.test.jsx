import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import App from './App.jsx';
import { INFO, calls, deferred, item, json, problem, stubApi } from '../test/http.js';

const FIRST = [item(2, 'second', 'with a description'), item(1, 'first')];

function itemsSection() {
  return screen.getByRole('region', { name: /^Items/ });
}

function listedNames() {
  return within(itemsSection())
    .queryAllByRole('listitem')
    .map((li) => li.querySelector('.item-name').textContent);
}

// Answers one after the other, the last one again for any further call.
function sequence(...answers) {
  let n = 0;
  return () => {
    const answer = answers[Math.min(n, answers.length - 1)];
    n += 1;
    return typeof answer === 'function' ? answer() : answer.clone();
  };
}

describe('App', () => {
  it('shows the API instance and the items from the API', async () => {
    stubApi({
      'GET /api/info': json(INFO),
      'GET /api/items': json(FIRST, { headers: { 'X-Cache': 'HIT' } }),
    });

    render(<App />);

    expect(await screen.findByTestId('version')).toHaveTextContent('1.4.2');
    expect(screen.getByTestId('instance')).toHaveTextContent('backend-7f9c');
    await waitFor(() => expect(listedNames()).toEqual(['#2 second', '#1 first']));
    const [second, first] = within(itemsSection()).getAllByRole('listitem');
    expect(within(second).getByText('with a description')).toHaveClass('item-description');
    expect(first.querySelector('.item-description')).toBeNull();
    expect(first.querySelector('time')).toHaveAttribute('datetime', FIRST[1].createdAt);
    expect(within(itemsSection()).getByText('(2)')).toBeInTheDocument();
    expect(screen.getByTestId('cache')).toHaveTextContent('cache HIT');
    expect(screen.getByTestId('cache')).toHaveClass('hit');
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });

  it('shows placeholders until the API answers', async () => {
    const info = deferred();
    const items = deferred();
    stubApi({ 'GET /api/info': () => info.promise, 'GET /api/items': () => items.promise });

    render(<App />);

    expect(screen.queryByTestId('version')).not.toBeInTheDocument();
    expect(screen.getByTestId('cache')).toHaveTextContent('cache …');
    expect(within(itemsSection()).getByText('(0)')).toBeInTheDocument();
    expect(listedNames()).toEqual([]);

    items.resolve(json(FIRST, { headers: { 'X-Cache': 'MISS' } }));
    expect(await screen.findByText('cache MISS')).toHaveClass('miss');
    expect(listedNames()).toEqual(['#2 second', '#1 first']);
    expect(screen.queryByTestId('version')).not.toBeInTheDocument();

    info.resolve(json(INFO));
    expect(await screen.findByTestId('version')).toHaveTextContent('1.4.2');
  });

  it('adds an item: POSTs the trimmed fields, says "Saving…", then shows the reloaded list', async () => {
    const user = userEvent.setup();
    const created = item(21, 'new thing', 'some details');
    const post = deferred();
    const fetchMock = stubApi({
      'GET /api/info': json(INFO),
      'GET /api/items': sequence(
        json(FIRST, { headers: { 'X-Cache': 'HIT' } }),
        json([created, ...FIRST], { headers: { 'X-Cache': 'MISS' } }),
      ),
      'POST /api/items': () => post.promise,
    });
    render(<App />);
    await waitFor(() => expect(listedNames()).toHaveLength(2));

    await user.type(screen.getByLabelText('Name'), '  new thing  ');
    await user.type(screen.getByLabelText('Description (optional)'), ' some details ');
    await user.click(screen.getByRole('button', { name: 'Add item' }));

    const saving = screen.getByRole('button', { name: 'Saving…' });
    expect(saving).toBeDisabled();
    const [posted] = calls(fetchMock, 'POST /api/items');
    expect(posted[1].headers['Content-Type']).toBe('application/json');
    expect(JSON.parse(posted[1].body)).toEqual({ name: 'new thing', description: 'some details' });

    post.resolve(json(created, { status: 201, headers: { Location: '/api/items/21' } }));

    await waitFor(() => expect(listedNames()).toEqual(['#21 new thing', '#2 second', '#1 first']));
    expect(screen.getByTestId('cache')).toHaveTextContent('cache MISS');
    expect(screen.getByRole('button', { name: 'Add item' })).toBeEnabled();
    expect(screen.getByLabelText('Name')).toHaveValue('');
    expect(screen.getByLabelText('Description (optional)')).toHaveValue('');
    expect(calls(fetchMock, 'GET /api/items')).toHaveLength(2);
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });

  it('shows the problem message when adding fails, keeps the input and the list', async () => {
    const user = userEvent.setup();
    const fetchMock = stubApi({
      'GET /api/info': json(INFO),
      'GET /api/items': json(FIRST, { headers: { 'X-Cache': 'HIT' } }),
      'POST /api/items': problem(400, 'Bad Request', 'name: must be 1 to 200 characters'),
    });
    render(<App />);
    await waitFor(() => expect(listedNames()).toHaveLength(2));

    await user.type(screen.getByLabelText('Name'), '   ');
    await user.click(screen.getByRole('button', { name: 'Add item' }));

    const form = screen.getByRole('form', { name: 'Add an item' });
    expect(await within(form).findByRole('alert')).toHaveTextContent('name: must be 1 to 200 characters');
    expect(JSON.parse(calls(fetchMock, 'POST /api/items')[0][1].body)).toEqual({ name: '' });
    expect(screen.getByLabelText('Name')).toHaveValue('   ');
    expect(screen.getByRole('button', { name: 'Add item' })).toBeEnabled();
    expect(calls(fetchMock, 'GET /api/items')).toHaveLength(1);
    expect(listedNames()).toEqual(['#2 second', '#1 first']);
  });

  it('clears the form error on the next successful add', async () => {
    const user = userEvent.setup();
    stubApi({
      'GET /api/info': json(INFO),
      'GET /api/items': json(FIRST),
      'POST /api/items': sequence(
        problem(400, 'Bad Request', 'name: must be 1 to 200 characters'),
        json(item(22, 'ok'), { status: 201 }),
      ),
    });
    render(<App />);
    const form = screen.getByRole('form', { name: 'Add an item' });

    await user.click(screen.getByRole('button', { name: 'Add item' }));
    expect(await within(form).findByRole('alert')).toBeInTheDocument();
    await user.type(screen.getByLabelText('Name'), 'ok');
    await user.click(screen.getByRole('button', { name: 'Add item' }));

    await waitFor(() => expect(screen.getByLabelText('Name')).toHaveValue(''));
    expect(within(form).queryByRole('alert')).not.toBeInTheDocument();
  });

  it('says when the API cannot be reached or the items cannot be loaded', async () => {
    stubApi({
      'GET /api/info': problem(503, 'Service Unavailable', 'database unreachable', '/api/info'),
      'GET /api/items': () => Promise.reject(new TypeError('Failed to fetch')),
    });

    render(<App />);

    expect(await screen.findByText('Cannot reach the API: database unreachable')).toHaveAttribute('role', 'alert');
    expect(await screen.findByText('Cannot load items: Failed to fetch')).toHaveAttribute('role', 'alert');
    expect(screen.queryByTestId('version')).not.toBeInTheDocument();
    expect(listedNames()).toEqual([]);
  });

  it('Refresh asks /api/info again and drops the error once it answers', async () => {
    const user = userEvent.setup();
    const fetchMock = stubApi({
      'GET /api/info': sequence(
        problem(503, 'Service Unavailable', 'database unreachable', '/api/info'),
        json({ ...INFO, instance: 'backend-2' }),
      ),
      'GET /api/items': json(FIRST),
    });
    render(<App />);
    await screen.findByText('Cannot reach the API: database unreachable');

    await user.click(screen.getByRole('button', { name: 'Refresh' }));

    expect(await screen.findByTestId('instance')).toHaveTextContent('backend-2');
    expect(screen.queryByText(/Cannot reach the API/)).not.toBeInTheDocument();
    expect(calls(fetchMock, 'GET /api/info')).toHaveLength(2);
  });

  it('Reload asks /api/items again and shows the new list, cache state and no error', async () => {
    const user = userEvent.setup();
    stubApi({
      'GET /api/info': json(INFO),
      'GET /api/items': sequence(
        () => Promise.reject(new TypeError('Failed to fetch')),
        json([item(3, 'third'), ...FIRST], { headers: { 'X-Cache': 'HIT' } }),
      ),
    });
    render(<App />);
    await screen.findByText('Cannot load items: Failed to fetch');

    await user.click(screen.getByRole('button', { name: 'Reload' }));

    await waitFor(() => expect(listedNames()).toEqual(['#3 third', '#2 second', '#1 first']));
    expect(screen.getByTestId('cache')).toHaveTextContent('cache HIT');
    expect(screen.queryByText(/Cannot load items/)).not.toBeInTheDocument();
  });
});
