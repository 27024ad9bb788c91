import { useCallback, useEffect, useState } from 'react';
import { createItem, getInfo, listItems } from './api.js';

const NAME_MAX = 200;

function InstanceInfo() {
  const [info, setInfo] = useState(null);
  const [error, setError] = useState('');

  const refresh = useCallback(() => {
    getInfo()
      .then((data) => {
        setInfo(data);
        setError('');
      })
      .catch((e) => setError(e.message));
  }, []);

  useEffect(refresh, [refresh]);

  return (
    <section className="card" aria-labelledby="info-title">
      <div className="card-head">
        <h2 id="info-title">API instance</h2>
        <button type="button" className="secondary" onClick={refresh}>
          Refresh
        </button>
      </div>
      {error && <p className="error" role="alert">Cannot reach the API: {error}</p>}
      {info && (
        <dl className="info">
          <dt>Version</dt>
          <dd data-testid="version">{info.version}</dd>
          <dt>Instance</dt>
          <dd data-testid="instance">{info.instance}</dd>
          <dt>Started</dt>
          <dd>{new Date(info.startedAt).toLocaleString()}</dd>
        </dl>
      )}
    </section>
  );
}

function AddItemForm({ onCreated }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setError('');
    try {
      const item = await createItem(name.trim(), description.trim());
      setName('');
      setDescription('');
      onCreated(item);
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card" onSubmit={submit} aria-labelledby="add-title">
      <h2 id="add-title">Add an item</h2>
      <label htmlFor="item-name">Name</label>
      <input
        id="item-name"
        value={name}
        maxLength={NAME_MAX + 50}
        onChange={(e) => setName(e.target.value)}
        placeholder={`1 to ${NAME_MAX} characters`}
      />
      <label htmlFor="item-description">Description (optional)</label>
      <textarea
        id="item-description"
        rows={3}
        value={description}
        onChange={(e) => setDescription(e.target.value)}
      />
      {error && <p className="error" role="alert">{error}</p>}
      <button type="submit" disabled={busy}>
        {busy ? 'Saving…' : 'Add item'}
      </button>
    </form>
  );
}

function ItemList({ items, cache, error, onReload }) {
  return (
    <section className="card" aria-labelledby="items-title">
      <div className="card-head">
        <h2 id="items-title">
          Items <span className="count">({items.length})</span>
        </h2>
        <span className={`badge ${cache === 'HIT' ? 'hit' : 'miss'}`} data-testid="cache">
          cache {cache}
        </span>
        <button type="button" className="secondary" onClick={onReload}>
          Reload
        </button>
      </div>
      {error && <p className="error" role="alert">Cannot load items: {error}</p>}
      <ul className="items">
        {items.map((item) => (
          <li key={item.id}>
            <div className="item-name">
              <span className="item-id">#{item.id}</span> {item.name}
            </div>
            {item.description && <div className="item-description">{item.description}</div>}
            <time dateTime={item.createdAt}>{new Date(item.createdAt).toLocaleString()}</time>
          </li>
        ))}
      </ul>
    </section>
  );
}

export default function App() {
  const [items, setItems] = useState([]);
  const [cache, setCache] = useState('…');
  const [error, setError] = useState('');

  const reload = useCallback(() => {
    listItems()
      .then(({ items: list, cache: state }) => {
        setItems(list);
        setCache(state);
        setError('');
      })
      .catch((e) => setError(e.message));
  }, []);

  useEffect(reload, [reload]);

  return (
    <main>
      <header>
        <h1>Deployer demo</h1>
        <p className="subtitle">React SPA behind nginx, Java API, PostgreSQL and Redis.</p>
      </header>
      <InstanceInfo />
      <AddItemForm onCreated={reload} />
      <ItemList items={items} cache={cache} error={error} onReload={reload} />
    </main>
  );
}
