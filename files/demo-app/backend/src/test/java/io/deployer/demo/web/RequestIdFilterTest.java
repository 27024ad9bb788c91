package io.deployer.demo.web;

import static org.assertj.core.api.Assertions.assertThat;

import jakarta.servlet.FilterChain;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;
import org.springframework.mock.web.MockHttpServletRequest;
import org.springframework.mock.web.MockHttpServletResponse;

class RequestIdFilterTest {

    private static String[] run(String header) throws Exception {
        MockHttpServletRequest request = new MockHttpServletRequest("GET", "/api/items");
        if (header != null) {
            request.addHeader("X-Request-ID", header);
        }
        AtomicReference<String> seen = new AtomicReference<>();
        FilterChain chain = (req, res) -> seen.set(MDC.get("request_id"));
        new RequestIdFilter().doFilter(request, new MockHttpServletResponse(), chain);
        return new String[] {seen.get(), (String) request.getAttribute("request_id"), MDC.get("request_id")};
    }

    @Test
    void theEdgesIdIsLoggedDuringTheRequestAndClearedAfter() throws Exception {
        String[] ids = run("0af7651916cd43dd8448eb211c80319c");
        assertThat(ids[0]).isEqualTo("0af7651916cd43dd8448eb211c80319c");
        assertThat(ids[1]).isEqualTo(ids[0]);
        assertThat(ids[2]).isNull();
    }

    @Test
    void aMissingOrForgedIdIsReplaced() throws Exception {
        for (String bad : new String[] {null, "", "a b", "x\nINFO forged line", "x".repeat(129)}) {
            String[] ids = run(bad);
            assertThat(ids[0]).as("header %s", bad).matches("[0-9a-f-]{36}");
            assertThat(ids[1]).isEqualTo(ids[0]);
        }
    }
}
