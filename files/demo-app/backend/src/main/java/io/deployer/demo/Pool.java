package io.deployer.demo;

import java.util.Deque;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * A small bounded pool of connections (JDBC or Redis), so requests reuse open connections
 * instead of paying a TCP/auth handshake each time. Connections are created lazily up to
 * {@code max}; a connection that saw any error is closed instead of returned, and one that
 * sat idle for a while is validated before reuse (the server may have restarted meanwhile).
 */
final class Pool<T extends AutoCloseable> implements AutoCloseable {
    interface Factory<T> { T create() throws Exception; }

    interface Check<T> { boolean valid(T item) throws Exception; }

    interface Work<T, R> { R apply(T item) throws Exception; }

    /** Thrown when no connection became free in time (pool exhausted). */
    static final class TimeoutException extends Exception {
        TimeoutException(String message) { super(message); }
    }

    private record Idle<T>(T item, long since) {}

    private static final long VALIDATE_AFTER_IDLE_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final String name;
    private final Factory<T> factory;
    private final Check<T> check;
    private final Semaphore permits;
    private final long waitMillis;
    // LIFO: the most recently used connection is the one most likely still alive.
    private final Deque<Idle<T>> idle = new ConcurrentLinkedDeque<>();
    private volatile boolean closed;

    Pool(String name, int max, long waitMillis, Factory<T> factory, Check<T> check) {
        this.name = name;
        this.factory = factory;
        this.check = check;
        this.permits = new Semaphore(max, true);
        this.waitMillis = waitMillis;
    }

    <R> R use(Work<T, R> work) throws Exception {
        return use(waitMillis, work);
    }

    <R> R use(long waitMillis, Work<T, R> work) throws Exception {
        if (closed) throw new IllegalStateException(name + " pool is closed");
        if (!permits.tryAcquire(waitMillis, TimeUnit.MILLISECONDS)) {
            throw new TimeoutException(name + " pool: no connection available within " + waitMillis + " ms");
        }
        T item = null;
        boolean healthy = false;
        try {
            item = borrow();
            R result = work.apply(item);
            healthy = true;
            return result;
        } finally {
            if (item != null) {
                if (healthy && !closed) idle.offerFirst(new Idle<>(item, System.nanoTime()));
                else closeQuietly(item);
            }
            permits.release();
        }
    }

    private T borrow() throws Exception {
        Idle<T> candidate;
        while ((candidate = idle.pollFirst()) != null) {
            if (System.nanoTime() - candidate.since() < VALIDATE_AFTER_IDLE_NANOS) return candidate.item();
            boolean ok;
            try {
                ok = check.valid(candidate.item());
            } catch (Exception e) {
                ok = false;
            }
            if (ok) return candidate.item();
            closeQuietly(candidate.item());
        }
        return factory.create();
    }

    @Override
    public void close() {
        closed = true;
        Idle<T> candidate;
        while ((candidate = idle.pollFirst()) != null) closeQuietly(candidate.item());
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // Nothing useful to do: the connection is being discarded anyway.
        }
    }
}
