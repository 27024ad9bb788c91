package io.deployer.demo;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * Minimal Redis client (RESP2) with a connection pool: AUTH, PING, GET, SET EX, DEL.
 * No Redis library is packaged in Debian, and these five commands are all the cache needs.
 */
final class Redis implements AutoCloseable {
    private static final int TIMEOUT_MILLIS = 2000;

    private final Pool<Connection> pool;

    Redis(String host, int port, String username, String password, int maxConnections) {
        this.pool = new Pool<>("redis", maxConnections, TIMEOUT_MILLIS,
                () -> Connection.open(host, port, username, password),
                c -> "PONG".equals(c.call("PING")));
    }

    String ping() throws Exception { return ping(TIMEOUT_MILLIS); }

    String ping(long waitMillis) throws Exception {
        return (String) pool.use(waitMillis, c -> c.call("PING"));
    }

    String get(String key) throws Exception {
        return (String) pool.use(c -> c.call("GET", key));
    }

    void setEx(String key, String value, int ttlSeconds) throws Exception {
        pool.use(c -> c.call("SET", key, value, "EX", Integer.toString(ttlSeconds)));
    }

    void del(String key) throws Exception {
        pool.use(c -> c.call("DEL", key));
    }

    @Override
    public void close() { pool.close(); }

    /** A Redis error reply such as "-NOAUTH ..." or "-WRONGPASS ...". */
    static final class ReplyException extends IOException {
        ReplyException(String message) { super(message); }
    }

    static final class Connection implements AutoCloseable {
        private final Socket socket;
        private final InputStream in;
        private final OutputStream out;

        private Connection(Socket socket) throws IOException {
            this.socket = socket;
            this.in = new BufferedInputStream(socket.getInputStream(), 8192);
            this.out = new BufferedOutputStream(socket.getOutputStream(), 8192);
        }

        static Connection open(String host, int port, String username, String password) throws IOException {
            Socket socket = new Socket();
            try {
                socket.setTcpNoDelay(true);
                socket.setKeepAlive(true);
                socket.setSoTimeout(TIMEOUT_MILLIS);
                socket.connect(new InetSocketAddress(host, port), TIMEOUT_MILLIS);
                Connection c = new Connection(socket);
                if (password != null && !password.isEmpty()) {
                    // AUTH user pass for ACL users (Redis 6+), AUTH pass for requirepass.
                    if (username != null && !username.isEmpty()) c.call("AUTH", username, password);
                    else c.call("AUTH", password);
                }
                return c;
            } catch (IOException | RuntimeException e) {
                socket.close();
                throw e;
            }
        }

        /** Sends one command and returns its reply: String, Long, null, or Object[] for arrays. */
        Object call(String... args) throws IOException {
            write(args);
            return read();
        }

        private void write(String... args) throws IOException {
            StringBuilder head = new StringBuilder();
            out.write(("*" + args.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
            for (String arg : args) {
                byte[] bytes = arg.getBytes(StandardCharsets.UTF_8);
                head.setLength(0);
                head.append('$').append(bytes.length).append("\r\n");
                out.write(head.toString().getBytes(StandardCharsets.US_ASCII));
                out.write(bytes);
                out.write('\r');
                out.write('\n');
            }
            out.flush();
        }

        private Object read() throws IOException {
            int type = in.read();
            if (type == -1) throw new EOFException("redis closed the connection");
            String line = readLine();
            switch (type) {
                case '+': return line;
                case '-': throw new ReplyException(line);
                case ':': return Long.parseLong(line);
                case '$': {
                    int len = Integer.parseInt(line);
                    if (len < 0) return null;
                    byte[] data = in.readNBytes(len);
                    if (data.length != len || in.read() != '\r' || in.read() != '\n') {
                        throw new EOFException("truncated bulk reply");
                    }
                    return new String(data, StandardCharsets.UTF_8);
                }
                case '*': {
                    int n = Integer.parseInt(line);
                    if (n < 0) return null;
                    Object[] items = new Object[n];
                    for (int i = 0; i < n; i++) items[i] = read();
                    return items;
                }
                default: throw new IOException("unexpected RESP type byte " + type);
            }
        }

        private String readLine() throws IOException {
            StringBuilder sb = new StringBuilder();
            int b;
            while ((b = in.read()) != -1) {
                if (b == '\r') {
                    if (in.read() != '\n') throw new IOException("malformed RESP line");
                    return sb.toString();
                }
                sb.append((char) b);
            }
            throw new EOFException("redis closed the connection");
        }

        @Override
        public void close() throws IOException { socket.close(); }
    }
}
