-- Demo data for a new database (as the framework-free version seeded it); none over adopted items.
INSERT INTO items (name, description)
SELECT 'Item ' || n, 'Seeded demo item number ' || n
FROM generate_series(1, 20) AS n
WHERE NOT EXISTS (SELECT 1 FROM items);
