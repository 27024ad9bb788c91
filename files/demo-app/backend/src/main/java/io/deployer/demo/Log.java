package io.deployer.demo;

import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** One line per event on stdout; the container runtime collects it. Never pass secret values here. */
final class Log {
    private Log() {}

    static void info(String msg) { line("INFO ", msg); }

    static void warn(String msg) { line("WARN ", msg); }

    static void error(String msg) { line("ERROR", msg); }

    private static final long THROTTLE_NANOS = 10_000_000_000L;
    private static final AtomicLong lastThrottled = new AtomicLong(System.nanoTime() - THROTTLE_NANOS);
    private static final AtomicInteger suppressed = new AtomicInteger();

    /**
     * For per-request failures (e.g. Redis down): at most one line per 10 s, so an outage
     * under load does not flood the log.
     */
    static void warnThrottled(String msg) {
        long now = System.nanoTime();
        long last = lastThrottled.get();
        if (now - last >= THROTTLE_NANOS && lastThrottled.compareAndSet(last, now)) {
            int skipped = suppressed.getAndSet(0);
            warn(msg + (skipped > 0 ? " (" + skipped + " similar messages suppressed)" : ""));
        } else {
            suppressed.incrementAndGet();
        }
    }

    private static void line(String level, String msg) {
        // System.out autoflushes on println, so lines survive a SIGTERM shortly after.
        System.out.println(Instant.now() + " " + level + " [" + Thread.currentThread().getName() + "] " + msg);
    }
}
