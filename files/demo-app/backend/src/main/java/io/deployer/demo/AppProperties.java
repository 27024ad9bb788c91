package io.deployer.demo;

import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * The application's own settings ({@code app.*}).
 *
 * @param version   release reported by {@code /api/info}; the deployer passes {@code APP_VERSION}
 * @param cache     the item list cache
 * @param listLimit how many items {@code GET /api/items} returns, newest first
 */
@ConfigurationProperties("app")
public record AppProperties(@DefaultValue("dev") String version, @DefaultValue Cache cache,
                            @DefaultValue("100") int listLimit) {

    /** @param ttl how long a cached item list is served before PostgreSQL is read again */
    public record Cache(@DefaultValue("30s") Duration ttl) {
    }
}
