package io.deployer.demo.cache;

import io.deployer.demo.AppProperties;
import io.deployer.demo.items.Item;
import io.deployer.demo.items.ItemService;
import io.lettuce.core.ClientOptions;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.springframework.boot.cache.autoconfigure.RedisCacheManagerBuilderCustomizer;
import org.springframework.boot.data.redis.autoconfigure.LettuceClientOptionsBuilderCustomizer;
import org.springframework.cache.annotation.CachingConfigurer;
import org.springframework.cache.annotation.EnableCaching;
import org.springframework.cache.interceptor.CacheErrorHandler;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.data.redis.cache.RedisCacheConfiguration;
import org.springframework.data.redis.serializer.JacksonJsonRedisSerializer;
import org.springframework.data.redis.serializer.RedisSerializationContext.SerializationPair;
import tools.jackson.databind.JavaType;
import tools.jackson.databind.json.JsonMapper;

/**
 * Spring Cache, on Redis in production ({@code spring.cache.type=redis}).
 *
 * <p>The item list is stored as JSON of the API's own shape under {@code demo:items::list}, so
 * every release of a rolling update (old and new side by side) reads what the other wrote; a Java
 * serialised value would tie the entry to one version's classes.
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
    RedisCacheManagerBuilderCustomizer itemsCache(AppProperties properties, JsonMapper jsonMapper) {
        RedisCacheConfiguration items = RedisCacheConfiguration.defaultCacheConfig()
                .entryTtl(properties.cache().ttl())
                .prefixCacheNameWith(KEY_PREFIX)
                .disableCachingNullValues()
                .serializeValuesWith(SerializationPair.fromSerializer(listSerializer(jsonMapper)));
        return builder -> builder.withCacheConfiguration(ItemService.CACHE, items);
    }

    static JacksonJsonRedisSerializer<List<Item>> listSerializer(JsonMapper jsonMapper) {
        JavaType type = jsonMapper.getTypeFactory().constructCollectionType(List.class, Item.class);
        return new JacksonJsonRedisSerializer<>(jsonMapper, type);
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
