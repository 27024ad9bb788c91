package io.deployer.demo.items;

import io.deployer.demo.AppProperties;
import java.util.Optional;
import org.springframework.cache.Cache;
import org.springframework.cache.CacheManager;
import org.springframework.cache.annotation.CacheEvict;
import org.springframework.cache.interceptor.CacheErrorHandler;
import org.springframework.stereotype.Service;
import tools.jackson.databind.json.JsonMapper;

/**
 * Items, with the list cached (Redis in production) for {@code app.cache.ttl}.
 *
 * <p>The list goes through the {@link Cache} API rather than {@code @Cacheable}: the response has
 * to say truthfully whether it came from the cache ({@code X-Cache: HIT|MISS}), and only the code
 * that does the lookup knows. Cache failures (Redis down, a value it cannot read) go to the same
 * {@link CacheErrorHandler} as the annotations use, which logs and lets the request fall through to
 * PostgreSQL: the cache can make the API faster, never make it fail.
 *
 * <p>The cache holds the list as the response body, JSON rendered once per miss: a hit sends the
 * stored bytes as they are. Reading the entry back into items and writing them out again took more
 * than half of the backend's CPU per cached request (Jackson and Instant formatting, profiled with
 * JFR), so the cache made a hit cost almost as much as a database read.
 */
@Service
public class ItemService {
    public static final String CACHE = "items";
    public static final String LIST_KEY = "list";

    /** The list as its JSON body (an array of {@link Item}) and whether it was served from the cache. */
    public record Listing(byte[] json, boolean cacheHit) {
    }

    private final ItemRepository repository;
    private final CacheManager cacheManager;
    private final CacheErrorHandler errorHandler;
    private final JsonMapper jsonMapper;
    private final int listLimit;

    public ItemService(ItemRepository repository, CacheManager cacheManager, CacheErrorHandler cacheErrorHandler,
                       JsonMapper jsonMapper, AppProperties properties) {
        this.repository = repository;
        this.cacheManager = cacheManager;
        this.errorHandler = cacheErrorHandler;
        this.jsonMapper = jsonMapper;
        this.listLimit = properties.listLimit();
    }

    /** The newest items, from the cache when it has them, else from PostgreSQL (then cached). */
    public Listing list() {
        Cache cache = cacheManager.getCache(CACHE);
        if (cache != null) {
            byte[] cached = cachedList(cache);
            if (cached != null) {
                return new Listing(cached, true);
            }
        }
        byte[] json = jsonMapper.writeValueAsBytes(repository.newest(listLimit));
        if (cache != null) {
            try {
                cache.put(LIST_KEY, json);
            } catch (RuntimeException e) {
                errorHandler.handleCachePutError(e, cache, LIST_KEY, json);
            }
        }
        return new Listing(json, false);
    }

    private byte[] cachedList(Cache cache) {
        try {
            Cache.ValueWrapper hit = cache.get(LIST_KEY);
            return hit == null ? null : (byte[]) hit.get();
        } catch (RuntimeException e) {
            errorHandler.handleCacheGetError(e, cache, LIST_KEY);
            return null;
        }
    }

    /** Uncached on purpose: one indexed read per request. */
    public Optional<Item> find(long id) {
        return repository.find(id);
    }

    /** Stores an item; the cached list is dropped afterwards so the next read shows it. */
    @CacheEvict(cacheNames = CACHE, key = "'" + LIST_KEY + "'")
    public Item create(String name, String description) {
        return repository.create(name, description);
    }
}
