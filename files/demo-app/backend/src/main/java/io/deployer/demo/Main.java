package io.deployer.demo;

import com.sun.net.httpserver.HttpServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Demo API entry point. Configuration follows Spring Boot names (see {@link Config}) so the
 * deployer can treat this app exactly like a Spring Boot service.
 */
public final class Main {
    private static volatile boolean ready;

    private Main() {}

    public static void main(String[] args) {
        try {
            start();
        } catch (Exception e) {
            // One clear line instead of a stack trace; a non-zero exit lets the orchestrator restart us.
            Log.error("startup failed: " + e);
            System.exit(1);
        }
    }

    private static void start() throws Exception {
        Instant startedAt = Instant.now();
        Config cfg = Config.fromEnvironment();
        String version = cfg.get("app.version", "dev");
        String instance = hostname();
        Log.info("demo-api " + version + " starting on " + instance + " (java " + Runtime.version() + ")");

        int port = cfg.getInt("server.port", 8080);
        int threads = cfg.getInt("server.tomcat.threads.max", 200);
        long graceMillis = cfg.getMillis("spring.lifecycle.timeout-per-shutdown-phase", 20_000, true);
        long startupWaitMillis = cfg.getMillis("app.startup.wait", 60_000, true);

        String url = cfg.get("spring.datasource.url", "jdbc:postgresql://postgres:5432/app");
        Database db = new Database(url,
                cfg.get("spring.datasource.username", "app"),
                cfg.get("spring.datasource.password", null),
                cfg.getInt("spring.datasource.hikari.maximum-pool-size", 10),
                cfg.getMillis("spring.datasource.hikari.connection-timeout", 30_000, false));
        String redisHost = cfg.get("spring.data.redis.host", "redis");
        int redisPort = cfg.getInt("spring.data.redis.port", 6379);
        Redis redis = new Redis(redisHost, redisPort,
                cfg.get("spring.data.redis.username", null),
                cfg.get("spring.data.redis.password", null),
                cfg.getInt("spring.data.redis.lettuce.pool.max-active", 16));

        // Query strings can carry credentials, so only the part before '?' is logged.
        Log.info("postgres " + url.replaceFirst("\\?.*$", "") + ", redis " + redisHost + ":" + redisPort);

        // Dependencies may start after us (compose, reboot): wait for them instead of crash-looping.
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(startupWaitMillis);
        int applied = retry("postgres", deadline, db::migrate);
        Log.info("schema at V" + Database.latestVersion() + " (" + applied + " migrations applied)");
        try {
            retry("redis", deadline, redis::ping);
            Log.info("redis reachable");
        } catch (Exception e) {
            // The cache is optional for serving; health reports DOWN until Redis is back.
            Log.warn("redis still unreachable, starting without cache: " + e.getMessage());
        }

        // Without TCP_NODELAY the JDK server's separate header/body writes meet delayed ACKs
        // and every keep-alive response waits ~40 ms. Must be set before the server class loads.
        System.setProperty("sun.net.httpserver.nodelay", "true");
        ExecutorService workers = Executors.newFixedThreadPool(threads, namedThreads("http-"));
        HttpServer server = HttpServer.create(new InetSocketAddress("0.0.0.0", port), 1024);
        Api api = new Api(db, redis, () -> ready, version, instance, startedAt);
        server.createContext("/", api);
        server.setExecutor(workers);
        server.start();
        ready = true;

        Runtime.getRuntime().addShutdownHook(new Thread(
                () -> shutdown(server, api, workers, db, redis, graceMillis), "shutdown"));
        Log.info("started in " + (System.currentTimeMillis() - startedAt.toEpochMilli()) + " ms, listening on 0.0.0.0:"
                + port + " with " + threads + " worker threads");
    }

    /**
     * Like Spring Boot's graceful shutdown: readiness goes OUT_OF_SERVICE, the listener closes,
     * in-flight requests get up to the grace period to finish, then the pools close.
     */
    private static void shutdown(HttpServer server, Api api, ExecutorService workers,
                                 Database db, Redis redis, long graceMillis) {
        ready = false;
        Log.info("shutdown started, draining in-flight requests for up to " + graceMillis + " ms");
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(graceMillis);
        // HttpServer.stop closes the listener at once but (JDK 17) then always sleeps the whole
        // delay, so it runs aside while we return as soon as the requests are done.
        Thread stopper = new Thread(() -> server.stop((int) ((graceMillis + 999) / 1000)), "http-stop");
        stopper.setDaemon(true);
        stopper.start();
        int idlePolls = 0;
        try {
            // Two quiet polls in a row: a keep-alive client may be sending its last request just now.
            while (idlePolls < 2 && System.nanoTime() < deadline && stopper.isAlive()) {
                Thread.sleep(100);
                idlePolls = api.inFlight() == 0 ? idlePolls + 1 : 0;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        int left = api.inFlight();
        if (left > 0) Log.warn(left + " requests still running at the end of the grace period");
        workers.shutdownNow();
        redis.close();
        db.close();
        Log.info("shutdown complete");
    }

    interface Step<T> { T run() throws Exception; }

    private static <T> T retry(String what, long deadlineNanos, Step<T> step) throws Exception {
        for (int attempt = 1; ; attempt++) {
            try {
                return step.run();
            } catch (Exception e) {
                if (System.nanoTime() + 2_000_000_000L > deadlineNanos) {
                    Log.error(what + " not available, giving up after " + attempt + " attempts: " + e.getMessage());
                    throw e;
                }
                Log.warn(what + " not available (attempt " + attempt + "): " + e.getMessage() + "; retrying in 2 s");
                Thread.sleep(2000);
            }
        }
    }

    private static String hostname() {
        String env = System.getenv("HOSTNAME");
        if (env != null && !env.isBlank()) return env;
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (Exception e) {
            return "unknown";
        }
    }

    private static ThreadFactory namedThreads(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
