package io.deployer.demo;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/** Routes every request; one handler keeps the URL table in one readable place. */
final class Api implements HttpHandler {
    private static final int MAX_BODY_BYTES = 16 * 1024;
    private static final int NAME_MAX = 200;
    private static final int DESCRIPTION_MAX = 2000;

    private final Database db;
    private final Redis redis;
    private final Items items;
    private final BooleanSupplier ready;
    private final String infoJson;
    private final AtomicInteger inFlight = new AtomicInteger();

    Api(Database db, Redis redis, BooleanSupplier ready, String version, String instance, Instant startedAt) {
        this.db = db;
        this.redis = redis;
        this.items = new Items(db, redis);
        this.ready = ready;
        this.infoJson = "{\"version\":" + Json.quote(version) + ",\"instance\":" + Json.quote(instance)
                + ",\"startedAt\":" + Json.quote(startedAt.toString()) + "}";
    }

    /** Requests currently inside a handler; shutdown waits for this to reach zero. */
    int inFlight() { return inFlight.get(); }

    @Override
    public void handle(HttpExchange ex) throws IOException {
        inFlight.incrementAndGet();
        try (ex) {
            // While draining, close each keep-alive connection after its current request,
            // so clients reconnect to an instance that is still ready.
            if (!ready.getAsBoolean()) ex.getResponseHeaders().set("Connection", "close");
            route(ex);
        } catch (IOException e) {
            // Only the response write throws IOException here: the client went away. Nothing to answer.
        } catch (Pool.TimeoutException e) {
            Log.warnThrottled("request failed: " + e.getMessage());
            safeError(ex, 503, "service busy, try again");
        } catch (Exception e) {
            Log.warnThrottled("request " + ex.getRequestMethod() + " " + ex.getRequestURI().getPath() + " failed: " + e);
            safeError(ex, e instanceof java.sql.SQLException ? 503 : 500, "request could not be served");
        } finally {
            inFlight.decrementAndGet();
        }
    }

    private void route(HttpExchange ex) throws Exception {
        String method = ex.getRequestMethod();
        String path = ex.getRequestURI().getPath();
        if (path.length() > 1 && path.endsWith("/")) path = path.substring(0, path.length() - 1);

        switch (path) {
            case "/actuator/health" -> {
                if (allow(ex, method, "GET")) health(ex);
            }
            case "/actuator/health/liveness" -> {
                if (allow(ex, method, "GET")) send(ex, 200, "{\"status\":\"UP\"}");
            }
            case "/actuator/health/readiness" -> {
                if (allow(ex, method, "GET")) {
                    boolean up = ready.getAsBoolean();
                    send(ex, up ? 200 : 503, up ? "{\"status\":\"UP\"}" : "{\"status\":\"OUT_OF_SERVICE\"}");
                }
            }
            case "/api/info" -> {
                if (allow(ex, method, "GET")) send(ex, 200, infoJson);
            }
            case "/api/items" -> {
                if (method.equals("GET") || method.equals("HEAD")) {
                    Items.Listing listing = items.list();
                    ex.getResponseHeaders().set("X-Cache", listing.cacheHit() ? "HIT" : "MISS");
                    send(ex, 200, listing.json());
                } else if (method.equals("POST")) {
                    createItem(ex);
                } else {
                    methodNotAllowed(ex, "GET, HEAD, POST");
                }
            }
            default -> {
                if (path.startsWith("/api/items/")) {
                    Long id = parseId(path.substring("/api/items/".length()));
                    if (id == null) {
                        error(ex, 404, "item not found");
                    } else if (allow(ex, method, "GET")) {
                        String json = items.find(id);
                        if (json == null) error(ex, 404, "item " + id + " not found");
                        else send(ex, 200, json);
                    }
                } else {
                    error(ex, 404, "no such resource");
                }
            }
        }
    }

    /** Same shape as Spring Boot's composite health, without details (they could leak internals). */
    private void health(HttpExchange ex) throws IOException {
        boolean dbUp = db.healthy();
        boolean redisUp;
        try {
            redisUp = "PONG".equals(redis.ping(2000));
        } catch (Exception e) {
            redisUp = false;
        }
        boolean up = dbUp && redisUp;
        send(ex, up ? 200 : 503, "{\"status\":\"" + status(up) + "\",\"components\":{"
                + "\"db\":{\"status\":\"" + status(dbUp) + "\"},"
                + "\"redis\":{\"status\":\"" + status(redisUp) + "\"}}}");
    }

    private static String status(boolean up) { return up ? "UP" : "DOWN"; }

    private void createItem(HttpExchange ex) throws Exception {
        byte[] raw;
        try (InputStream in = ex.getRequestBody()) {
            raw = in.readNBytes(MAX_BODY_BYTES + 1);
        }
        if (raw.length > MAX_BODY_BYTES) {
            error(ex, 413, "request body larger than " + MAX_BODY_BYTES + " bytes");
            return;
        }
        Map<String, Object> body;
        try {
            body = Json.parseFlatObject(new String(raw, StandardCharsets.UTF_8));
        } catch (Json.ParseException e) {
            error(ex, 400, "invalid JSON: " + e.getMessage());
            return;
        }
        Object name = body.get("name");
        Object description = body.get("description");
        if (!(name instanceof String n) || n.isBlank()) {
            error(ex, 400, "name is required and must be a non-empty string");
            return;
        }
        String trimmed = n.strip();
        if (trimmed.codePointCount(0, trimmed.length()) > NAME_MAX) {
            error(ex, 400, "name must be 1 to " + NAME_MAX + " characters");
            return;
        }
        if (description != null && !(description instanceof String)) {
            error(ex, 400, "description must be a string");
            return;
        }
        String desc = (String) description;
        if (desc != null && desc.codePointCount(0, desc.length()) > DESCRIPTION_MAX) {
            error(ex, 400, "description must be at most " + DESCRIPTION_MAX + " characters");
            return;
        }
        String json = items.create(trimmed, desc);
        String id = json.substring("{\"id\":".length(), json.indexOf(','));
        ex.getResponseHeaders().set("Location", "/api/items/" + id);
        send(ex, 201, json);
    }

    private static Long parseId(String s) {
        if (s.isEmpty() || s.length() > 18) return null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') return null;
        }
        return Long.parseLong(s);
    }

    private static boolean allow(HttpExchange ex, String method, String allowed) throws IOException {
        // HEAD too: some health probes (wget --spider) use it.
        if (method.equals(allowed) || (method.equals("HEAD") && allowed.equals("GET"))) return true;
        methodNotAllowed(ex, allowed.equals("GET") ? "GET, HEAD" : allowed);
        return false;
    }

    private static void methodNotAllowed(HttpExchange ex, String allowed) throws IOException {
        ex.getResponseHeaders().set("Allow", allowed);
        error(ex, 405, "method " + ex.getRequestMethod() + " not allowed");
    }

    /** Spring Boot's error body shape: timestamp, status, error, message, path. */
    private static void error(HttpExchange ex, int status, String message) throws IOException {
        StringBuilder sb = new StringBuilder(160);
        sb.append("{\"timestamp\":").append(Json.quote(Instant.now().toString()));
        sb.append(",\"status\":").append(status);
        sb.append(",\"error\":").append(Json.quote(reason(status)));
        sb.append(",\"message\":");
        Json.quote(sb, message);
        sb.append(",\"path\":");
        Json.quote(sb, ex.getRequestURI().getPath());
        send(ex, status, sb.append('}').toString());
    }

    private static void safeError(HttpExchange ex, int status, String message) {
        // Only possible if no response was started yet; otherwise the connection is just closed.
        if (ex.getResponseCode() != -1) return;
        try {
            error(ex, status, message);
        } catch (IOException ignored) {
            // Client went away.
        }
    }

    private static String reason(int status) {
        return switch (status) {
            case 400 -> "Bad Request";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 413 -> "Payload Too Large";
            case 500 -> "Internal Server Error";
            case 503 -> "Service Unavailable";
            default -> "Error";
        };
    }

    /** Fixed Content-Length, so the JDK server keeps the connection alive for the next request. */
    private static void send(HttpExchange ex, int status, String json) throws IOException {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        Headers h = ex.getResponseHeaders();
        h.set("Content-Type", "application/json; charset=utf-8");
        h.set("Cache-Control", "no-store");
        h.set("X-Content-Type-Options", "nosniff");
        if (ex.getRequestMethod().equals("HEAD")) {
            h.set("Content-Length", Integer.toString(body.length));
            ex.sendResponseHeaders(status, -1);
            return;
        }
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }
}
