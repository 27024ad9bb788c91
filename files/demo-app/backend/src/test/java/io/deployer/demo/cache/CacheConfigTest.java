package io.deployer.demo.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyInt;
import static org.mockito.BDDMockito.given;
import static org.mockito.Mockito.mock;

import io.deployer.demo.AppProperties;
import io.deployer.demo.items.Item;
import io.deployer.demo.items.ItemRepository;
import io.deployer.demo.items.ItemService;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.boot.cache.autoconfigure.RedisCacheManagerBuilderCustomizer;
import org.springframework.cache.Cache;
import org.springframework.cache.CacheManager;
import org.springframework.cache.concurrent.ConcurrentMapCache;
import org.springframework.cache.support.SimpleCacheManager;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.data.redis.cache.RedisCacheConfiguration;
import org.springframework.data.redis.cache.RedisCacheManager;
import org.springframework.data.redis.cache.RedisCacheWriter;
import org.springframework.data.redis.connection.RedisConnectionFactory;
import org.springframework.data.redis.serializer.JacksonJsonRedisSerializer;
import tools.jackson.databind.json.JsonMapper;

/** The cache wiring of CacheConfig, without a Redis server. */
class CacheConfigTest {
    private static final Item ITEM = new Item(5, "pen", null, Instant.parse("2026-01-02T03:04:05.000001Z"));

    /**
     * The entry is the response body as bytes, JSON of the API's shape: exactly what a release that cached
     * the items themselves (Jackson's list serializer, the release before this one) wrote and read, so the two
     * can share the key during a rolling update.
     */
    @Test
    void cachedListIsTheJsonBodyThatEveryReleaseCanRead() {
        given(Context.REPOSITORY.newest(anyInt())).willReturn(List.of(ITEM));
        try (AnnotationConfigApplicationContext context = new AnnotationConfigApplicationContext(Context.class)) {
            ItemService service = context.getBean(ItemService.class);
            service.list();
            byte[] stored = (byte[]) context.getBean(CacheManager.class).getCache(ItemService.CACHE)
                    .get(ItemService.LIST_KEY).get();
            assertThat(new String(stored, StandardCharsets.UTF_8))
                    .isEqualTo("[{\"id\":5,\"name\":\"pen\",\"description\":null,\"createdAt\":\"2026-01-02T03:04:05.000001Z\"}]");
            JsonMapper mapper = JsonMapper.builder().build();
            JacksonJsonRedisSerializer<List<Item>> previousRelease = new JacksonJsonRedisSerializer<>(mapper,
                    mapper.getTypeFactory().constructCollectionType(List.class, Item.class));
            assertThat(previousRelease.deserialize(stored)).containsExactly(ITEM);
            assertThat(previousRelease.serialize(List.of(ITEM))).isEqualTo(stored);
        }
    }

    @Test
    void itemsCacheHasTheTtlAPrefixAndKeepsTheBodyAsItIs() {
        CacheConfig config = new CacheConfig();
        AppProperties properties = new AppProperties("t", new AppProperties.Cache(Duration.ofSeconds(7)), 100);
        RedisCacheManagerBuilderCustomizer customizer = config.itemsCache(properties);
        RedisCacheManager.RedisCacheManagerBuilder builder =
                RedisCacheManager.builder(RedisCacheWriter.nonLockingRedisCacheWriter(mock(RedisConnectionFactory.class)));
        customizer.customize(builder);
        RedisCacheConfiguration items = builder.getCacheConfigurationFor(ItemService.CACHE).orElseThrow();
        assertThat(items.getTtlFunction().getTimeToLive(ItemService.LIST_KEY, List.of())).isEqualTo(Duration.ofSeconds(7));
        assertThat(items.getKeyPrefixFor(ItemService.CACHE)).isEqualTo("demo:items::");
        assertThat(items.getAllowCacheNullValues()).isFalse();
        byte[] body = "[]".getBytes(StandardCharsets.UTF_8);
        assertThat(items.getValueSerializationPair().write(body).array()).isEqualTo(body);
        assertThat(items.getValueSerializationPair().read(java.nio.ByteBuffer.wrap(body))).isEqualTo(body);
        assertThat(config.errorHandler()).isInstanceOf(LoggingCacheErrorHandler.class);
        assertThat(config.failFastWhileDisconnected()).isNotNull();
    }

    /** The annotations (@CacheEvict on create) with CacheConfig's error handler, on in-memory caches. */
    @Configuration(proxyBeanMethods = false)
    @Import(CacheConfig.class)
    static class Context {
        static final ItemRepository REPOSITORY = mock(ItemRepository.class);

        @Bean
        AppProperties appProperties() {
            return new AppProperties("t", new AppProperties.Cache(Duration.ofSeconds(30)), 100);
        }

        @Bean
        JsonMapper jsonMapper() {
            return JsonMapper.builder().build();
        }

        @Bean
        CacheManager cacheManager() {
            SimpleCacheManager manager = new SimpleCacheManager();
            manager.setCaches(List.of(new ConcurrentMapCache(ItemService.CACHE), new BrokenCache("broken")));
            manager.initializeCaches();
            return manager;
        }

        @Bean
        ItemService itemService(CacheManager caches, org.springframework.cache.interceptor.CacheErrorHandler errors,
                                JsonMapper jsonMapper, AppProperties properties) {
            return new ItemService(REPOSITORY, caches, errors, jsonMapper, properties);
        }
    }

    @Test
    void createEvictsTheCachedList() {
        given(Context.REPOSITORY.newest(anyInt())).willReturn(List.of(ITEM));
        given(Context.REPOSITORY.create(any(), any())).willReturn(ITEM);
        try (AnnotationConfigApplicationContext context = new AnnotationConfigApplicationContext(Context.class)) {
            ItemService service = context.getBean(ItemService.class);
            assertThat(service.list().cacheHit()).isFalse();
            assertThat(service.list().cacheHit()).isTrue();
            service.create("pen", null);
            assertThat(service.list().cacheHit()).isFalse();
        }
    }

    @Test
    void failingEvictionDoesNotFailTheWrite() {
        given(Context.REPOSITORY.create(any(), any())).willReturn(ITEM);
        try (AnnotationConfigApplicationContext context = new AnnotationConfigApplicationContext(Context.class)) {
            context.getBean(SimpleCacheManager.class).setCaches(List.of(new BrokenCache(ItemService.CACHE)));
            context.getBean(SimpleCacheManager.class).initializeCaches();
            ItemService service = context.getBean(ItemService.class);
            assertThat(service.create("pen", null)).isEqualTo(ITEM);
            assertThat(service.list().cacheHit()).isFalse();
        }
    }

    /** A cache whose every operation fails, as a Redis cache does while Redis is down. */
    static class BrokenCache extends ConcurrentMapCache {
        BrokenCache(String name) {
            super(name);
        }

        @Override
        public ValueWrapper get(Object key) {
            throw new IllegalStateException("cache down");
        }

        @Override
        public void put(Object key, Object value) {
            throw new IllegalStateException("cache down");
        }

        @Override
        public void evict(Object key) {
            throw new IllegalStateException("cache down");
        }

        @Override
        public boolean evictIfPresent(Object key) {
            throw new IllegalStateException("cache down");
        }
    }

    @Test
    void brokenCacheReallyBreaks() {
        Cache cache = new BrokenCache("x");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> cache.get("k")).hasMessage("cache down");
    }
}
