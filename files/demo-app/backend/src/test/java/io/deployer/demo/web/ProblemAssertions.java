package io.deployer.demo.web;

import static org.assertj.core.api.Assertions.assertThat;

import org.springframework.test.web.servlet.MvcResult;
import org.springframework.test.web.servlet.ResultMatcher;

/** What every error answer must be: a problem document, no internals. */
public final class ProblemAssertions {
    private ProblemAssertions() {
    }

    public static ResultMatcher cleanProblem(int status) {
        return (MvcResult result) -> {
            assertThat(result.getResponse().getStatus()).isEqualTo(status);
            assertThat(result.getResponse().getContentType()).startsWith("application/problem+json");
            String body = result.getResponse().getContentAsString();
            assertThat(body).contains("\"status\":" + status).contains("\"title\":").contains("\"detail\":")
                    .contains("\"message\":")
                    .doesNotContain("\"trace\"").doesNotContain("\"exception\"")
                    .doesNotContain("Exception").doesNotContain("\tat ").doesNotContain("io.deployer");
        };
    }
}
