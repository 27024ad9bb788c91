package io.deployer.demo.cache;

import io.deployer.demo.AppProperties;
import io.deployer.demo.items.ItemService;
import io.lettuce.core.ClientOptions;
import java.time.Clock;
import java.time.Duration;
import org.springframework.boot.cache.autoconfigure.RedisCacheManagerBuilderCustomizer;
import org.springframework.boot.data.redis.autoconfigure.LettuceClientOptionsBuilderCustomizer;
import org.springframework.cache.annotation.CachingConfigurer;
import org.springframework.cache.annotation.EnableCaching;
import org.springframework.cache.interceptor.CacheErrorHandler;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.data.redis.cache.RedisCacheConfiguration;
import org.springframework.data.redis.serializer.RedisSerializationContext.SerializationPair;
import org.springframework.data.redis.serializer.RedisSerializer;

/**
 * Spring Cache, on Redis in production ({@code spring.cache.type=redis}).
 *
 * <p>The item list is stored as the response body {@link ItemService} renders, JSON of the API's own
 * shape, under {@code demo:items::list}, as plain bytes: every release of a rolling update (old and new
 * side by side) reads what the other wrote, where a Java serialised value would tie the entry to one
 * version's classes.
 */
@Configuration(proxyBeanMethods = false)
@EnableCaching
public class CacheConfig implements CachingConfigurer {
    static final String KEY_PREFIX = "demo:";

    @Bean
    @Override
    public CacheErrorHandler errorHandler() {
        return new LoggingCacheErrorHandler(Clock.systemUTC(), Duration.ofSeconds(10));
    }

    @Bean
    RedisCacheManagerBuilderCustomizer itemsCache(AppProperties properties) {
        RedisCacheConfiguration items = RedisCacheConfiguration.defaultCacheConfig()
                .entryTtl(properties.cache().ttl())
                .prefixCacheNameWith(KEY_PREFIX)
                .disableCachingNullValues()
                .serializeValuesWith(SerializationPair.fromSerializer(RedisSerializer.byteArray()));
        return builder -> builder.withCacheConfiguration(ItemService.CACHE, items);
    }

    /**
     * While Redis is unreachable, commands fail at once instead of queueing until the connection
     * is back (each request would wait for {@code spring.data.redis.timeout} first).
     */
    @Bean
    LettuceClientOptionsBuilderCustomizer failFastWhileDisconnected() {
        return builder -> builder.disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS);
    }
}
