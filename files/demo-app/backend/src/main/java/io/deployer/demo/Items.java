package io.deployer.demo;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.OffsetDateTime;

/** The items resource: reads from Postgres, with the list cached in Redis for a short time. */
final class Items {
    static final String LIST_CACHE_KEY = "demo:items:list";
    static final int LIST_CACHE_TTL_SECONDS = 30;
    static final int LIST_LIMIT = 100;

    /** A JSON body plus whether it came from the cache. */
    record Listing(String json, boolean cacheHit) {}

    private final Database db;
    private final Redis redis;

    Items(Database db, Redis redis) {
        this.db = db;
        this.redis = redis;
    }

    /** Newest items first. Redis problems degrade to a database read instead of failing the request. */
    Listing list() throws Exception {
        try {
            String cached = redis.get(LIST_CACHE_KEY);
            if (cached != null) return new Listing(cached, true);
        } catch (Exception e) {
            Log.warnThrottled("redis read failed, serving from database: " + e);
        }
        String json = db.use(c -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT id, name, description, created_at FROM items ORDER BY id DESC LIMIT " + LIST_LIMIT)) {
                try (ResultSet rs = ps.executeQuery()) {
                    StringBuilder sb = new StringBuilder(8192).append('[');
                    boolean first = true;
                    while (rs.next()) {
                        if (!first) sb.append(',');
                        first = false;
                        appendRow(sb, rs);
                    }
                    return sb.append(']').toString();
                }
            }
        });
        try {
            redis.setEx(LIST_CACHE_KEY, json, LIST_CACHE_TTL_SECONDS);
        } catch (Exception e) {
            Log.warnThrottled("redis write failed: " + e);
        }
        return new Listing(json, false);
    }

    /** Uncached on purpose: a direct database read per request. Returns null when missing. */
    String find(long id) throws Exception {
        return db.use(c -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT id, name, description, created_at FROM items WHERE id = ?")) {
                ps.setLong(1, id);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? appendRow(new StringBuilder(256), rs).toString() : null;
                }
            }
        });
    }

    /** Inserts and returns the new row as JSON; the cached list is dropped so readers see it. */
    String create(String name, String description) throws Exception {
        String json = db.use(c -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO items (name, description) VALUES (?, ?) RETURNING id, name, description, created_at")) {
                ps.setString(1, name);
                ps.setString(2, description);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return appendRow(new StringBuilder(256), rs).toString();
                }
            }
        });
        try {
            redis.del(LIST_CACHE_KEY);
        } catch (Exception e) {
            // The entry still expires within its TTL.
            Log.warnThrottled("redis invalidation failed: " + e);
        }
        return json;
    }

    private static StringBuilder appendRow(StringBuilder sb, ResultSet rs) throws SQLException {
        OffsetDateTime created = rs.getObject(4, OffsetDateTime.class);
        sb.append("{\"id\":").append(rs.getLong(1));
        sb.append(",\"name\":");
        Json.quote(sb, rs.getString(2));
        sb.append(",\"description\":");
        Json.quote(sb, rs.getString(3));
        sb.append(",\"createdAt\":");
        Json.quote(sb, created == null ? null : created.toInstant().toString());
        return sb.append('}');
    }
}
