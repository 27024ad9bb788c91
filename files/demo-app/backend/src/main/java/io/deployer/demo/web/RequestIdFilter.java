package io.deployer.demo.web;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.UUID;
import java.util.regex.Pattern;
import org.slf4j.MDC;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * One id per request, shared with the edge: the {@code X-Request-ID} the edge sends (its own
 * {@code $request_id}, or a sane one its client sent), else a new UUID. It is put in the logging MDC
 * ({@code logging.pattern.level} prints it on every line logged for the request) and in a request
 * attribute that Tomcat's access log prints ({@code %{request_id}r}), so one grep finds the edge's
 * access line and the backend's lines of the same request.
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE)
public class RequestIdFilter extends OncePerRequestFilter {
    static final String HEADER = "X-Request-ID";
    static final String KEY = "request_id";
    // The edge's rule (edge_nginx, map $http_x_request_id): anything else could forge log lines.
    private static final Pattern SANE = Pattern.compile("[A-Za-z0-9._:-]{1,128}");

    static String idFor(String header) {
        return header != null && SANE.matcher(header).matches() ? header : UUID.randomUUID().toString();
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        String id = idFor(request.getHeader(HEADER));
        request.setAttribute(KEY, id);
        MDC.put(KEY, id);
        try {
            chain.doFilter(request, response);
        } finally {
            MDC.remove(KEY);
        }
    }
}
