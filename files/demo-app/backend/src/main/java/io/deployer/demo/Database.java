package io.deployer.demo;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;

/** PostgreSQL access: a pool of JDBC connections plus the embedded, ordered schema migrations. */
final class Database implements AutoCloseable {
    /** One migration; versions are applied in order and recorded in schema_version. */
    private record Migration(int version, String description, String sql) {}

    private static final List<Migration> MIGRATIONS = List.of(
            new Migration(1, "create items", """
                    CREATE TABLE items (
                        id          bigserial PRIMARY KEY,
                        name        text NOT NULL,
                        description text,
                        created_at  timestamptz NOT NULL DEFAULT now()
                    )"""),
            new Migration(2, "seed items", """
                    INSERT INTO items (name, description)
                    SELECT 'Item ' || n, 'Seeded demo item number ' || n
                    FROM generate_series(1, 20) AS n"""));

    // Any constant works; it only has to be the same for every instance of this app.
    private static final long MIGRATION_LOCK_KEY = 7_151_212_001L;

    private final Pool<Connection> pool;

    Database(String url, String username, String password, int maxConnections, long waitMillis) {
        Properties props = new Properties();
        if (username != null) props.setProperty("user", username);
        if (password != null) props.setProperty("password", password);
        props.setProperty("ApplicationName", "demo-api");
        props.setProperty("connectTimeout", "5");
        props.setProperty("tcpKeepAlive", "true");
        this.pool = new Pool<>("postgres", maxConnections, waitMillis,
                () -> DriverManager.getConnection(url, props),
                c -> c.isValid(2));
    }

    <R> R use(Pool.Work<Connection, R> work) throws Exception {
        return pool.use(work);
    }

    /** Health check with a short wait, so a saturated pool cannot stall the probe for long. */
    boolean healthy() {
        try {
            return pool.use(2000, c -> c.isValid(2));
        } catch (Exception e) {
            return false;
        }
    }

    /**
     * Applies missing migrations in one transaction. The advisory lock serialises instances that
     * start together (rolling deploy), so each migration runs exactly once.
     */
    int migrate() throws Exception {
        return pool.use(c -> {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                st.execute("SELECT pg_advisory_xact_lock(" + MIGRATION_LOCK_KEY + ")");
                st.execute("""
                        CREATE TABLE IF NOT EXISTS schema_version (
                            version     integer PRIMARY KEY,
                            description text NOT NULL,
                            applied_at  timestamptz NOT NULL DEFAULT now()
                        )""");
                Set<Integer> applied = new HashSet<>();
                try (ResultSet rs = st.executeQuery("SELECT version FROM schema_version")) {
                    while (rs.next()) applied.add(rs.getInt(1));
                }
                int count = 0;
                for (Migration m : MIGRATIONS) {
                    if (applied.contains(m.version())) continue;
                    st.execute(m.sql());
                    try (var ps = c.prepareStatement("INSERT INTO schema_version (version, description) VALUES (?, ?)")) {
                        ps.setInt(1, m.version());
                        ps.setString(2, m.description());
                        ps.executeUpdate();
                    }
                    Log.info("migration V" + m.version() + " (" + m.description() + ") applied");
                    count++;
                }
                c.commit();
                return count;
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(true);
            }
        });
    }

    static int latestVersion() {
        return MIGRATIONS.get(MIGRATIONS.size() - 1).version();
    }

    @Override
    public void close() { pool.close(); }
}
