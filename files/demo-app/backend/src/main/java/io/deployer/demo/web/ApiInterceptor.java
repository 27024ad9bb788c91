package io.deployer.demo.web;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.springframework.http.HttpHeaders;
import org.springframework.web.servlet.HandlerInterceptor;

/**
 * For {@code /api/**}: API answers are never cached by browsers or proxies (the list has its own
 * server-side cache), are not sniffed as another content type, and bodies over 16 KiB are refused
 * (413) before they are read.
 */
public class ApiInterceptor implements HandlerInterceptor {
    static final long MAX_BODY_BYTES = 16 * 1024;

    @Override
    public boolean preHandle(HttpServletRequest request, HttpServletResponse response, Object handler) {
        response.setHeader(HttpHeaders.CACHE_CONTROL, "no-store");
        response.setHeader("X-Content-Type-Options", "nosniff");
        if (request.getContentLengthLong() > MAX_BODY_BYTES) {
            throw new ApiExceptionHandler.PayloadTooLargeException(MAX_BODY_BYTES);
        }
        return true;
    }
}
