package io.deployer.demo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Spring Boot style configuration without Spring: a property such as
 * {@code spring.datasource.password} is looked up
 * <ol>
 *   <li>in the environment, under Spring's relaxed names: {@code SPRING_DATASOURCE_PASSWORD};
 *       dashes are dropped ({@code SERVER_TOMCAT_THREADS_MAX}) or, like Spring's legacy form,
 *       turned into underscores ({@code SPRING_LIFECYCLE_TIMEOUT_PER_SHUTDOWN_PHASE});</li>
 *   <li>in the config trees named by {@code SPRING_CONFIG_IMPORT=[optional:]configtree:/run/secrets/}
 *       (one file per property, file name = property name, value trimmed).</li>
 * </ol>
 * Environment wins over the config tree, as in Spring.
 */
final class Config {
    private final Map<String, String> env;
    private final Map<String, String> tree;

    private Config(Map<String, String> env, Map<String, String> tree) {
        this.env = env;
        this.tree = tree;
    }

    static Config fromEnvironment() {
        Map<String, String> env = System.getenv();
        Map<String, String> tree = new HashMap<>();
        String imports = env.getOrDefault("SPRING_CONFIG_IMPORT", "");
        for (String raw : imports.split(",")) {
            String location = raw.trim();
            boolean optional = location.startsWith("optional:");
            if (optional) location = location.substring("optional:".length());
            if (!location.startsWith("configtree:")) continue;
            Path dir = Path.of(location.substring("configtree:".length()));
            if (!Files.isDirectory(dir)) {
                if (optional) continue;
                throw new IllegalStateException("config tree " + dir + " does not exist");
            }
            readTree(dir, tree);
            Log.info("config tree " + dir + " read (" + tree.size() + " properties)");
        }
        return new Config(env, tree);
    }

    /** Files may be flat ({@code spring.datasource.password}) or nested ({@code spring/datasource/password}). */
    private static void readTree(Path dir, Map<String, String> into) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.filter(Files::isRegularFile).forEach(file -> {
                Path rel = dir.relativize(file);
                // Skip hidden entries such as Kubernetes' ..data links.
                for (Path part : rel) if (part.toString().startsWith(".")) return;
                String name = rel.toString().replace('/', '.');
                try {
                    into.putIfAbsent(name, Files.readString(file, StandardCharsets.UTF_8).trim());
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read config tree entry " + name, e);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read config tree " + dir, e);
        }
    }

    String get(String property, String fallback) {
        String base = property.toUpperCase(Locale.ROOT).replace('.', '_');
        String value = env.get(base.replace("-", ""));
        if (value == null) value = env.get(base.replace('-', '_'));
        if (value == null) value = tree.get(property);
        return value != null ? value : fallback;
    }

    int getInt(String property, int fallback) {
        String value = get(property, null);
        if (value == null || value.isBlank()) return fallback;
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalStateException(property + " must be an integer, got '" + value + "'");
        }
    }

    /** Spring duration style: plain number in the given default unit, or 20s / 500ms / 1m. */
    long getMillis(String property, long fallbackMillis, boolean plainIsSeconds) {
        String value = get(property, null);
        if (value == null || value.isBlank()) return fallbackMillis;
        String v = value.trim().toLowerCase(Locale.ROOT);
        try {
            if (v.endsWith("ms")) return Long.parseLong(v.substring(0, v.length() - 2));
            if (v.endsWith("s")) return Long.parseLong(v.substring(0, v.length() - 1)) * 1000;
            if (v.endsWith("m")) return Long.parseLong(v.substring(0, v.length() - 1)) * 60_000;
            long n = Long.parseLong(v);
            return plainIsSeconds ? n * 1000 : n;
        } catch (NumberFormatException e) {
            throw new IllegalStateException(property + " is not a duration: '" + value + "'");
        }
    }
}
