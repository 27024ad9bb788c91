package io.deployer.demo;

import static org.assertj.core.api.Assertions.assertThat;

import io.deployer.demo.db.TestPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.autoconfigure.context.LifecycleProperties;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The whole application on Tomcat against PostgreSQL, set up as the deployer does (roles.sql,
 * Flyway as the migration role at start-up, the API as the runtime role). The cache is in memory
 * here (no Redis server in the build); RedisDownIntegrationTest runs the Redis configuration.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
    "app.version=9.9.9-it",
    "spring.cache.type=simple",
    "management.health.redis.enabled=false",
    "management.endpoint.health.group.readiness.include=readinessState,db",
    // As the deployer passes it: a plain number of seconds.
    "spring.lifecycle.timeout-per-shutdown-phase=20",
})
class ApiIntegrationTest {

    @DynamicPropertySource
    static void database(DynamicPropertyRegistry registry) {
        TestPostgres.AppDatabase db = TestPostgres.appDatabase("it_api");
        registry.add("spring.datasource.url", db::url);
        registry.add("spring.datasource.username", db::runtimeUser);
        registry.add("spring.datasource.password", db::runtimePassword);
        registry.add("spring.flyway.user", db::migratorUser);
        registry.add("spring.flyway.password", db::migratorPassword);
        // The access log as configured, but in a file the test reads instead of the process's stdout.
        registry.add("server.tomcat.accesslog.directory", ACCESS_LOG_DIR::toString);
        registry.add("server.tomcat.accesslog.prefix", () -> "access");
        registry.add("server.tomcat.accesslog.suffix", () -> ".log");
    }

    private static final Path ACCESS_LOG_DIR = tempDir();

    private static Path tempDir() {
        try {
            return Files.createTempDirectory("access-log");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @LocalServerPort
    private int port;

    @Autowired
    private JdbcClient jdbc;

    @Autowired
    private LifecycleProperties lifecycle;

    private HttpClientSupport http() {
        return new HttpClientSupport(port);
    }

    @Test
    void writeReadAndCacheAsTheSpaAndTheDeployerTestsDo() {
        HttpResponse<String> created = http().post("/api/items", "{\"name\":\"it item\",\"description\":\"written by the test\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        Matcher id = Pattern.compile("\"id\":(\\d+)").matcher(created.body());
        assertThat(id.find()).isTrue();
        assertThat(created.headers().firstValue("Location")).hasValue("/api/items/" + id.group(1));
        assertThat(created.body()).contains("\"name\":\"it item\"", "\"description\":\"written by the test\"", "\"createdAt\":\"");

        HttpResponse<String> first = http().get("/api/items");
        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(first.headers().firstValue("X-Cache")).hasValue("MISS");
        assertThat(first.headers().firstValue("Cache-Control")).hasValue("no-store");
        assertThat(first.body()).startsWith("[{\"id\":" + id.group(1) + ",");
        HttpResponse<String> second = http().get("/api/items");
        assertThat(second.headers().firstValue("X-Cache")).hasValue("HIT");
        assertThat(second.body()).isEqualTo(first.body());

        HttpResponse<String> one = http().get("/api/items/" + id.group(1));
        assertThat(one.statusCode()).isEqualTo(200);
        assertThat(one.body()).contains("\"name\":\"it item\"");

        assertThat(http().post("/api/items", "{\"name\":\"another\"}").statusCode()).isEqualTo(201);
        assertThat(http().get("/api/items").headers().firstValue("X-Cache")).hasValue("MISS");
    }

    @Test
    void theAccessLogLineCarriesTheEdgesRequestId() throws Exception {
        assertThat(http().get("/api/items?rid", "X-Request-ID", "it-rid.42").statusCode()).isEqualTo(200);
        Path log = ACCESS_LOG_DIR.resolve("access.log");
        String line = "";
        // Tomcat writes the line after the response is sent.
        for (int i = 0; i < 50 && line.isEmpty(); i++) {
            line = Files.exists(log) ? Files.readAllLines(log).stream()
                    .filter(l -> l.contains("GET /api/items?rid ")).findFirst().orElse("") : "";
            Thread.sleep(100);
        }
        assertThat(line).contains("\"GET /api/items?rid HTTP/1.1\" 200 ").contains(" rt=").endsWith(" rid=it-rid.42");
    }

    @Test
    void seededItemsAreThereAndTheListIsCapped() {
        assertThat(jdbc.sql("SELECT count(*) FROM items").query(Long.class).single()).isGreaterThanOrEqualTo(20);
        assertThat(Pattern.compile("\"id\":").matcher(http().get("/api/items").body()).results().count())
                .isBetween(20L, 100L);
    }

    @Test
    void theApiRunsAsTheRuntimeRoleAndFlywayRanAsTheMigrator() {
        if (TestPostgres.psql().isEmpty()) {
            return;   // single-role fallback, see TestPostgres.appDatabase
        }
        assertThat(jdbc.sql("SELECT current_user").query(String.class).single()).isEqualTo(TestPostgres.RUNTIME);
        assertThat(jdbc.sql("SELECT DISTINCT installed_by FROM flyway_schema_history").query(String.class).list())
                .containsExactly(TestPostgres.MIGRATOR);
    }

    @Test
    void errorsAreProblemsOverHttpToo() {
        HttpResponse<String> bad = http().post("/api/items", "{oops");
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(bad.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/problem+json"));
        assertThat(bad.body()).contains("\"message\":\"the request body is not valid JSON\"").doesNotContain("trace");

        HttpResponse<String> wrongMethod = http().method("PATCH", "/api/items");
        assertThat(wrongMethod.statusCode()).isEqualTo(405);
        assertThat(wrongMethod.headers().firstValue("Allow")).isPresent();

        assertThat(http().get("/api/items/123456789").statusCode()).isEqualTo(404);
        assertThat(http().get("/api/items/x").statusCode()).isEqualTo(400);
        HttpResponse<String> nowhere = http().get("/nowhere");
        assertThat(nowhere.statusCode()).isEqualTo(404);
        assertThat(nowhere.body()).doesNotContain("Whitelabel").doesNotContain("trace");
    }

    @Test
    void infoReportsTheRelease() {
        HttpResponse<String> info = http().get("/api/info");
        assertThat(info.statusCode()).isEqualTo(200);
        assertThat(info.body()).contains("\"version\":\"9.9.9-it\"", "\"instance\":", "\"startedAt\":");
    }

    @Test
    void healthProbesOnTheAppPort() {
        HttpResponse<String> health = http().get("/actuator/health");
        assertThat(health.statusCode()).as(health.body()).isEqualTo(200);
        assertThat(health.body()).startsWith("{").contains("\"status\":\"UP\"", "\"db\":{\"status\":\"UP\"}")
                .doesNotContain("details").doesNotContain("PostgreSQL");
        for (String probe : new String[] {"/actuator/health/liveness", "/actuator/health/readiness", "/livez", "/readyz"}) {
            HttpResponse<String> answer = http().get(probe);
            assertThat(answer.statusCode()).as(probe).isEqualTo(200);
            assertThat(answer.body()).as(probe).contains("\"status\":\"UP\"");
        }
        assertThat(http().get("/livez").body()).doesNotContain("db");
    }

    @Test
    void onlyHealthInfoAndPrometheusAreExposed() {
        HttpResponse<String> metrics = http().get("/actuator/prometheus");
        assertThat(metrics.statusCode()).isEqualTo(200);
        http().get("/api/info");
        assertThat(http().get("/actuator/prometheus").body())
                .contains("http_server_requests_seconds_bucket", "application=\"demo-api\"", "hikaricp_connections")
                // the latency objective's bucket (monitoring_slo_latency_seconds), whatever the label order
                .containsPattern("http_server_requests_seconds_bucket\\{(?=[^}]*le=\"0\\.2\")(?=[^}]*uri=\"/api/info\")");
        assertThat(http().get("/actuator/info").body()).contains("\"version\":\"9.9.9-it\"");
        for (String hidden : new String[] {"/actuator/env", "/actuator/beans", "/actuator/configprops", "/actuator/heapdump",
                "/actuator/flyway", "/actuator/shutdown"}) {
            assertThat(http().get(hidden).statusCode()).as(hidden).isEqualTo(404);
        }
    }

    @Test
    void openApiDescribesTheItemsApi() {
        HttpResponse<String> docs = http().get("/api/docs/openapi.json");
        assertThat(docs.statusCode()).as(docs.body()).isEqualTo(200);
        assertThat(docs.body()).contains("\"openapi\":\"3.", "/api/items", "/api/items/{id}", "/api/info",
                        "\"title\":\"demo-api\"", "\"version\":\"9.9.9-it\"", "\"servers\":[{\"url\":\"/\"")
                .doesNotContain("/actuator", "/api/docs", "127.0.0.1");
        // The list's body is rendered bytes (the cache keeps them): its schema is declared, still an array of Item.
        assertThat(tools.jackson.databind.json.JsonMapper.builder().build().readTree(docs.body())
                .at("/paths/~1api~1items/get/responses/200/content/application~1json/schema").toString())
                .isEqualTo("{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Item\"}}");
        assertThat(http().get("/api/docs/swagger-ui/index.html").statusCode()).isEqualTo(200);
        assertThat(http().get("/v3/api-docs").statusCode()).isEqualTo(404);
    }

    @Test
    void swaggerUiRedirectKeepsTheEdgesSchemeAndHost() {
        HttpResponse<String> entry = http().get("/api/docs/", "X-Forwarded-Proto", "https",
                "X-Forwarded-Host", "shop.example");
        assertThat(entry.statusCode()).isEqualTo(302);
        // Relative or absolute, the browser that asked https://shop.example/api/docs/ must land on https.
        URI landing = URI.create("https://shop.example/api/docs/").resolve(entry.headers().firstValue("Location").orElseThrow());
        assertThat(landing).hasToString("https://shop.example/api/docs/swagger-ui/index.html");
    }

    @Test
    void plainShutdownTimeoutIsSeconds() {
        assertThat(lifecycle.getTimeoutPerShutdownPhase()).isEqualTo(Duration.ofSeconds(20));
    }
}
