package io.deployer.demo.cache;

import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.cache.Cache;
import org.springframework.cache.interceptor.CacheErrorHandler;

/**
 * A cache failure (Redis down, timed out, or holding a value this version cannot read) is logged
 * and swallowed, so the caller goes on without the cache: reads fall through to PostgreSQL, a
 * failed eviction leaves an entry that expires with its TTL. One WARN line per interval at most,
 * with the number of failures since the last one, so an outage does not flood the log.
 */
public class LoggingCacheErrorHandler implements CacheErrorHandler {
    private static final Logger LOG = LoggerFactory.getLogger(LoggingCacheErrorHandler.class);

    private final Clock clock;
    private final long intervalMillis;
    private final AtomicLong nextLogAt = new AtomicLong(Long.MIN_VALUE);
    private final AtomicLong suppressed = new AtomicLong();

    public LoggingCacheErrorHandler(Clock clock, Duration interval) {
        this.clock = clock;
        this.intervalMillis = interval.toMillis();
    }

    @Override
    public void handleCacheGetError(RuntimeException exception, Cache cache, Object key) {
        log("read", exception, cache, key);
    }

    @Override
    public void handleCachePutError(RuntimeException exception, Cache cache, Object key, Object value) {
        log("write", exception, cache, key);
    }

    @Override
    public void handleCacheEvictError(RuntimeException exception, Cache cache, Object key) {
        log("eviction", exception, cache, key);
    }

    @Override
    public void handleCacheClearError(RuntimeException exception, Cache cache) {
        log("clear", exception, cache, "*");
    }

    /** Failures seen but not logged since the last logged one. */
    long suppressed() {
        return suppressed.get();
    }

    private void log(String operation, RuntimeException e, Cache cache, Object key) {
        long now = clock.millis();
        long due = nextLogAt.get();
        if (now < due || !nextLogAt.compareAndSet(due, now + intervalMillis)) {
            suppressed.incrementAndGet();
            return;
        }
        long skipped = suppressed.getAndSet(0);
        LOG.warn("cache {} of {}::{} failed, going on without the cache: {}{}", operation, cache.getName(), key,
                rootMessage(e), skipped > 0 ? " (" + skipped + " more cache failures since the last message)" : "");
    }

    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root == e ? e.toString() : e.getClass().getSimpleName() + ": " + root;
    }
}
