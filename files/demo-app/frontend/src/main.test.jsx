import { screen, waitFor } from '@testing-library/react';
import { expect, it } from 'vitest';
import { INFO, calls, item, json, stubApi } from '../test/http.js';

it('mounts the app into #root of index.html', async () => {
  document.body.innerHTML = '<div id="root"></div>';
  const fetchMock = stubApi({
    'GET /api/info': json(INFO),
    'GET /api/items': json([item(1, 'first')], { headers: { 'X-Cache': 'MISS' } }),
  });

  await import('./main.jsx');

  const root = document.getElementById('root');
  await waitFor(() => expect(root).toContainElement(screen.getByTestId('version')));
  expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Deployer demo');
  expect(await screen.findByText('cache MISS')).toBeInTheDocument();
  expect(calls(fetchMock, 'GET /api/info').length).toBeGreaterThan(0);
});
