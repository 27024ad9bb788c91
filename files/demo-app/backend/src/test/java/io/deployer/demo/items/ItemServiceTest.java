package io.deployer.demo.items;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.BDDMockito.given;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import io.deployer.demo.AppProperties;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.cache.Cache;
import org.springframework.cache.CacheManager;
import org.springframework.cache.concurrent.ConcurrentMapCacheManager;
import org.springframework.cache.interceptor.CacheErrorHandler;
import org.springframework.data.redis.RedisConnectionFailureException;
import tools.jackson.databind.json.JsonMapper;

/** X-Cache truthfulness: HIT only when the list came out of the cache, MISS otherwise. */
class ItemServiceTest {
    private static final List<Item> ITEMS = List.of(new Item(2, "b", null, Instant.EPOCH), new Item(1, "a", "x", Instant.EPOCH));
    private static final AppProperties PROPERTIES = new AppProperties("t", new AppProperties.Cache(Duration.ofSeconds(30)), 100);

    private final ItemRepository repository = mock(ItemRepository.class);
    private static final String JSON = "[{\"id\":2,\"name\":\"b\",\"description\":null,\"createdAt\":\"1970-01-01T00:00:00Z\"},"
            + "{\"id\":1,\"name\":\"a\",\"description\":\"x\",\"createdAt\":\"1970-01-01T00:00:00Z\"}]";
    private static final JsonMapper MAPPER = JsonMapper.builder().build();

    private final CacheErrorHandler errors = mock(CacheErrorHandler.class);

    private static String body(ItemService.Listing listing) {
        return new String(listing.json(), StandardCharsets.UTF_8);
    }

    @BeforeEach
    void rows() {
        given(repository.newest(100)).willReturn(ITEMS);
    }

    @Test
    void firstReadIsAMissFromTheDatabaseThenHitsUntilEvicted() {
        ConcurrentMapCacheManager caches = new ConcurrentMapCacheManager(ItemService.CACHE);
        ItemService service = new ItemService(repository, caches, errors, MAPPER, PROPERTIES);

        ItemService.Listing miss = service.list();
        assertThat(miss.cacheHit()).isFalse();
        assertThat(body(miss)).isEqualTo(JSON);
        ItemService.Listing hit = service.list();
        assertThat(hit.cacheHit()).isTrue();
        assertThat(hit.json()).isSameAs(caches.getCache(ItemService.CACHE).get(ItemService.LIST_KEY).get());
        assertThat(body(hit)).isEqualTo(JSON);
        assertThat(service.list().cacheHit()).isTrue();
        verify(repository, times(1)).newest(100);

        caches.getCache(ItemService.CACHE).evict(ItemService.LIST_KEY);
        assertThat(service.list().cacheHit()).isFalse();
        verify(repository, times(2)).newest(100);
    }

    @Test
    void brokenCacheReadFallsThroughToTheDatabase() {
        Cache cache = mock(Cache.class);
        RedisConnectionFailureException down = new RedisConnectionFailureException("redis down");
        when(cache.get(ItemService.LIST_KEY)).thenThrow(down);
        org.mockito.Mockito.doThrow(down).when(cache).put(eq(ItemService.LIST_KEY), any());
        CacheManager caches = mock(CacheManager.class);
        when(caches.getCache(ItemService.CACHE)).thenReturn(cache);
        ItemService service = new ItemService(repository, caches, errors, MAPPER, PROPERTIES);

        ItemService.Listing listing = service.list();
        assertThat(listing.cacheHit()).isFalse();
        assertThat(body(listing)).isEqualTo(JSON);
        verify(errors).handleCacheGetError(down, cache, ItemService.LIST_KEY);
        verify(errors).handleCachePutError(down, cache, ItemService.LIST_KEY, listing.json());
    }

    @Test
    void noCacheConfiguredMeansAlwaysMiss() {
        CacheManager caches = mock(CacheManager.class);
        ItemService service = new ItemService(repository, caches, errors, MAPPER, PROPERTIES);
        assertThat(service.list().cacheHit()).isFalse();
        assertThat(service.list().cacheHit()).isFalse();
        verify(repository, times(2)).newest(100);
    }

    @Test
    void findAndCreateGoToTheRepository() {
        Item created = new Item(3, "c", null, Instant.EPOCH);
        given(repository.find(3)).willReturn(Optional.of(created));
        given(repository.create("c", null)).willReturn(created);
        ItemService service = new ItemService(repository, new ConcurrentMapCacheManager(), errors, MAPPER, PROPERTIES);
        assertThat(service.find(3)).contains(created);
        assertThat(service.create("c", null)).isEqualTo(created);
    }
}
