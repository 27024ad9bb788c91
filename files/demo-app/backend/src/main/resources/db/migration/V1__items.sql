-- The items of the demo API; the same columns as the framework-free version's first migration.
-- Created in Flyway's default schema (spring.flyway.default-schema=app), owned by the migration role.
CREATE TABLE items (
    id          bigserial PRIMARY KEY,
    name        text        NOT NULL,
    description text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
