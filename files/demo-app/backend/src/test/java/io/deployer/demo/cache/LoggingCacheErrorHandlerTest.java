package io.deployer.demo.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;
import org.springframework.cache.concurrent.ConcurrentMapCache;
import org.springframework.data.redis.RedisConnectionFailureException;

class LoggingCacheErrorHandlerTest {

    /** A clock the test moves by hand. */
    static final class ManualClock extends Clock {
        private Instant now = Instant.parse("2026-01-01T00:00:00Z");

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    @Test
    void swallowsEveryKindOfFailureAndLogsAtMostOncePerInterval() {
        ManualClock clock = new ManualClock();
        LoggingCacheErrorHandler handler = new LoggingCacheErrorHandler(clock, Duration.ofSeconds(10));
        ConcurrentMapCache cache = new ConcurrentMapCache("items");
        RuntimeException down = new RedisConnectionFailureException("Unable to connect",
                new java.net.ConnectException("Connection refused"));

        handler.handleCacheGetError(down, cache, "list");          // logged
        handler.handleCachePutError(down, cache, "list", "v");     // suppressed
        handler.handleCacheEvictError(down, cache, "list");        // suppressed
        assertThat(handler.suppressed()).isEqualTo(2);

        clock.advance(Duration.ofSeconds(11));
        handler.handleCacheClearError(new IllegalStateException("plain"), cache);  // logged, counter reset
        assertThat(handler.suppressed()).isZero();
    }
}
