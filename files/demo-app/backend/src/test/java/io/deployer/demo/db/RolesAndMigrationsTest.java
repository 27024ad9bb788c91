package io.deployer.demo.db;

import static io.deployer.demo.db.TestPostgres.MIGRATOR;
import static io.deployer.demo.db.TestPostgres.MIGRATOR_PASSWORD;
import static io.deployer.demo.db.TestPostgres.RUNTIME;
import static io.deployer.demo.db.TestPostgres.RUNTIME_PASSWORD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * db/roles.sql and the Flyway migrations on a real PostgreSQL 15, as the deployer runs them:
 * roles.sql as the superuser, the migrations as the migration role, the API as the runtime role,
 * which then may read and write rows and nothing else.
 */
class RolesAndMigrationsTest {
    private static final String DB = "roles_test";

    @BeforeAll
    static void setUp() {
        assumeTrue(TestPostgres.psql().isPresent(), "psql (Debian: postgresql-client) is needed to run roles.sql");
        TestPostgres.createDatabase(DB);
        TestPostgres.PsqlResult first = TestPostgres.runRolesSql(DB, TestPostgres.defaultRoleVariables());
        assertThat(first.exitCode()).as(first.output()).isZero();
        MigrateResult result = migrate(DB);
        assertThat(result.migrationsExecuted).isEqualTo(3);
    }

    static MigrateResult migrate(String database) {
        // The settings of application.properties (spring.flyway.*), with the migration role.
        return Flyway.configure()
                .dataSource(TestPostgres.url(database), MIGRATOR, MIGRATOR_PASSWORD)
                .schemas("app").defaultSchema("app")
                .locations("classpath:db/migration")
                .load()
                .migrate();
    }

    private static Connection runtime() throws SQLException {
        return TestPostgres.connect(DB, RUNTIME, RUNTIME_PASSWORD);
    }

    private static List<String> column(Connection c, String sql) throws SQLException {
        List<String> values = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                values.add(rs.getString(1));
            }
        }
        return values;
    }

    private static void assertDenied(Connection c, String sql) {
        assertThatThrownBy(() -> {
            try (Statement st = c.createStatement()) {
                st.execute(sql);
            }
        }).as(sql).isInstanceOf(SQLException.class)
                .satisfies(e -> assertThat(((SQLException) e).getSQLState()).as(e.getMessage()).isEqualTo("42501"));
    }

    @Test
    void migrationsCreateTheItemsTableInSchemaAppOwnedByTheMigrator() throws SQLException {
        try (Connection c = TestPostgres.superuser(DB)) {
            assertThat(column(c, "SELECT tableowner FROM pg_tables WHERE schemaname = 'app' AND tablename = 'items'"))
                    .containsExactly(MIGRATOR);
            assertThat(column(c, "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'app'"))
                    .containsExactly(MIGRATOR);
            assertThat(column(c, "SELECT column_name || ' ' || data_type || ' ' || is_nullable"
                    + " FROM information_schema.columns WHERE table_schema = 'app' AND table_name = 'items'"
                    + " ORDER BY ordinal_position"))
                    .containsExactly("id bigint NO", "name text NO", "description text YES",
                            "created_at timestamp with time zone NO");
            assertThat(column(c, "SELECT count(*) FROM app.items")).containsExactly("20");
            assertThat(column(c, "SELECT DISTINCT installed_by FROM app.flyway_schema_history")).containsExactly(MIGRATOR);
            assertThat(column(c, "SELECT to_regclass('public.items')::text")).containsExactly((String) null);
        }
    }

    @Test
    void runtimeRoleReadsAndWritesRowsThroughItsSearchPath() throws SQLException {
        try (Connection c = runtime(); Statement st = c.createStatement()) {
            assertThat(column(c, "SHOW search_path")).containsExactly("app");
            try (ResultSet rs = st.executeQuery(
                    "INSERT INTO items (name, description) VALUES ('runtime', 'row') RETURNING id")) {
                assertThat(rs.next()).isTrue();
                long id = rs.getLong(1);
                assertThat(st.executeUpdate("UPDATE items SET description = 'changed' WHERE id = " + id)).isEqualTo(1);
                assertThat(column(c, "SELECT description FROM items WHERE id = " + id)).containsExactly("changed");
                assertThat(st.executeUpdate("DELETE FROM items WHERE id = " + id)).isEqualTo(1);
            }
            assertThat(column(c, "SELECT count(*) > 0 FROM flyway_schema_history")).containsExactly("t");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "CREATE TABLE app.evil (id int)",
        "CREATE TABLE public.evil (id int)",
        "CREATE TEMPORARY TABLE evil (id int)",
        "CREATE SCHEMA evil",
        "CREATE FUNCTION app.evil() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "ALTER TABLE items ADD COLUMN evil text",
        "ALTER TABLE items OWNER TO app_runtime",
        "DROP TABLE items",
        "TRUNCATE items",
        "CREATE INDEX evil ON items (name)",
        "COPY items TO PROGRAM 'id'",
        "COPY items FROM '/etc/passwd'",
        "ALTER SYSTEM SET work_mem = '1GB'",
        "SELECT pg_read_file('postgresql.conf')",
        "INSERT INTO flyway_schema_history (installed_rank, description, type, script, installed_by, execution_time, success)"
            + " VALUES (99, 'evil', 'SQL', 'evil', 'app_runtime', 0, true)",
        "DELETE FROM flyway_schema_history",
        "UPDATE flyway_schema_history SET checksum = 0",
    })
    void runtimeRoleCannotChangeTheSchemaOrReachTheServer(String sql) throws SQLException {
        try (Connection c = runtime()) {
            assertDenied(c, sql);
        }
    }

    @Test
    void runtimeAndMigratorRolesMayConnectToTheirDatabaseOnly() {
        for (String[] role : new String[][] {{RUNTIME, RUNTIME_PASSWORD}, {MIGRATOR, MIGRATOR_PASSWORD}}) {
            for (String other : List.of("postgres", "template1")) {
                assertThatThrownBy(() -> TestPostgres.connect(other, role[0], role[1]).close())
                        .as(role[0] + " -> " + other)
                        .isInstanceOf(SQLException.class)
                        .hasMessageContaining("permission denied for database");
            }
        }
    }

    @Test
    void passwordsAreChecked() {
        assertThatThrownBy(() -> TestPostgres.connect(DB, RUNTIME, "wrong").close())
                .isInstanceOf(SQLException.class)
                .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("28P01"));
    }

    @Test
    void migratorOwnsTheSchemaButIsNoSuperuser() throws SQLException {
        try (Connection c = TestPostgres.connect(DB, MIGRATOR, MIGRATOR_PASSWORD); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE app.scratch (id int)");
            st.execute("DROP TABLE app.scratch");
            assertDenied(c, "ALTER SYSTEM SET work_mem = '1GB'");
            assertDenied(c, "COPY app.items TO PROGRAM 'id'");
            assertDenied(c, "CREATE SCHEMA evil");
            assertThat(column(c, "SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = current_user"))
                    .containsExactly("f");
        }
    }

    @Test
    void rolesSqlRunsAgainAfterTheMigrationsAndKeepsEverything() throws SQLException {
        TestPostgres.PsqlResult again = TestPostgres.runRolesSql(DB,
                Map.of("migrator_password", MIGRATOR_PASSWORD, "runtime_password", "rotated-Secret-3"));
        assertThat(again.exitCode()).as(again.output()).isZero();
        assertThat(again.output()).doesNotContain(MIGRATOR_PASSWORD).doesNotContain("rotated-Secret-3");
        try (Connection c = TestPostgres.connect(DB, RUNTIME, "rotated-Secret-3")) {
            assertThat(column(c, "SELECT count(*) >= 20 FROM items")).containsExactly("t");
            assertDenied(c, "DELETE FROM flyway_schema_history");
        } finally {
            TestPostgres.runRolesSql(DB, TestPostgres.defaultRoleVariables());
        }
        assertThat(migrate(DB).migrationsExecuted).isZero();
    }

    @Test
    void rolesSqlRefusesToRunWithoutPasswords() {
        TestPostgres.PsqlResult result = TestPostgres.runRolesSql(DB, Map.of("migrator_password", "x"));
        assertThat(result.exitCode()).isNotZero();
        assertThat(result.output()).contains("set the psql variable runtime_password");
    }

    @Test
    void theFrameworkFreeVersionsItemsAreAdoptedWithTheirIds() throws SQLException {
        String legacy = "roles_legacy";
        TestPostgres.createDatabase(legacy);
        try (Connection c = TestPostgres.superuser(legacy); Statement st = c.createStatement()) {
            // What the first API left behind: public.items (and its schema_version), rows 1, 2, 7.
            st.execute("CREATE TABLE public.items (id bigserial PRIMARY KEY, name text NOT NULL, description text,"
                    + " created_at timestamptz NOT NULL DEFAULT now())");
            st.execute("CREATE TABLE public.schema_version (version integer PRIMARY KEY, description text NOT NULL,"
                    + " applied_at timestamptz NOT NULL DEFAULT now())");
            st.execute("INSERT INTO public.items (id, name, description) VALUES (1, 'one', NULL), (2, 'two', 'b'),"
                    + " (7, 'seven', 'c')");
        }
        assertThat(TestPostgres.runRolesSql(legacy, TestPostgres.defaultRoleVariables()).exitCode()).isZero();
        assertThat(migrate(legacy).migrationsExecuted).isEqualTo(3);
        try (Connection c = TestPostgres.connect(legacy, RUNTIME, RUNTIME_PASSWORD); Statement st = c.createStatement()) {
            assertThat(column(c, "SELECT id || ':' || name FROM items ORDER BY id")).containsExactly("1:one", "2:two", "7:seven");
            try (ResultSet rs = st.executeQuery("INSERT INTO items (name) VALUES ('next') RETURNING id")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getLong(1)).isEqualTo(8);
            }
        }
    }
}
