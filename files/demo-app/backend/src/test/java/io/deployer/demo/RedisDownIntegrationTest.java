package io.deployer.demo;

import static org.assertj.core.api.Assertions.assertThat;

import io.deployer.demo.db.TestPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.cache.CacheManager;
import org.springframework.core.env.Environment;
import org.springframework.data.redis.cache.RedisCacheManager;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The production cache configuration (Redis) with Redis unreachable: the API answers from
 * PostgreSQL (never a 500), readiness is DOWN, liveness is UP. The database password arrives as a
 * file of a config tree, as the deployer mounts it in /run/secrets.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
    "spring.config.import=configtree:target/it-secrets/",
    "spring.cache.type=redis",
    "spring.data.redis.host=127.0.0.1",
})
class RedisDownIntegrationTest {
    private static final Path SECRETS = Path.of("target/it-secrets");

    static {
        // Like Docker's secrets: one file per property, with the trailing newline editors leave.
        try {
            Files.createDirectories(SECRETS);
            Files.writeString(SECRETS.resolve("spring.datasource.password"), TestPostgres.RUNTIME_PASSWORD + "\n");
            Files.writeString(SECRETS.resolve("spring.data.redis.password"), "redis-Secret-4\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @DynamicPropertySource
    static void dependencies(DynamicPropertyRegistry registry) {
        TestPostgres.AppDatabase db = TestPostgres.appDatabase("it_redis_down");
        registry.add("spring.datasource.url", db::url);
        registry.add("spring.datasource.username", db::runtimeUser);
        registry.add("spring.flyway.user", db::migratorUser);
        registry.add("spring.flyway.password", db::migratorPassword);
        registry.add("spring.data.redis.port", RedisDownIntegrationTest::closedPort);
    }

    /** A port nothing listens on. */
    private static int closedPort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @LocalServerPort
    private int port;

    @Autowired
    private CacheManager cacheManager;

    @Autowired
    private Environment environment;

    private HttpClientSupport http() {
        return new HttpClientSupport(port);
    }

    @Test
    void itemsAreServedFromPostgresWhileRedisIsDown() {
        assertThat(cacheManager).isInstanceOf(RedisCacheManager.class);
        for (int i = 0; i < 3; i++) {
            long started = System.nanoTime();
            HttpResponse<String> list = http().get("/api/items");
            long millis = (System.nanoTime() - started) / 1_000_000;
            assertThat(list.statusCode()).as(list.body()).isEqualTo(200);
            assertThat(list.headers().firstValue("X-Cache")).hasValue("MISS");
            assertThat(list.body()).contains("\"name\":\"Item 1\"");
            assertThat(millis).as("a Redis outage costs little time per request").isLessThan(3000);
        }
        HttpResponse<String> created = http().post("/api/items", "{\"name\":\"while redis is down\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        assertThat(http().get("/api/items").body()).contains("while redis is down");
    }

    @Test
    void readinessIsDownUntilRedisAnswersLivenessStaysUp() {
        HttpResponse<String> health = http().get("/actuator/health");
        assertThat(health.statusCode()).isEqualTo(503);
        assertThat(health.body()).contains("\"redis\":{\"status\":\"DOWN\"}", "\"db\":{\"status\":\"UP\"}");
        assertThat(http().get("/readyz").statusCode()).isEqualTo(503);
        assertThat(http().get("/actuator/health/readiness").statusCode()).isEqualTo(503);
        assertThat(http().get("/livez").statusCode()).isEqualTo(200);
    }

    @Test
    void passwordsComeFromTheConfigTreeWithoutTheTrailingNewline() {
        assertThat(environment.getProperty("spring.data.redis.password")).isEqualTo("redis-Secret-4");
        assertThat(environment.getProperty("spring.datasource.password")).isEqualTo(TestPostgres.RUNTIME_PASSWORD);
    }
}
