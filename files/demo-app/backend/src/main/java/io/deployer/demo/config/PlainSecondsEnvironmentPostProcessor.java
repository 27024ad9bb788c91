package io.deployer.demo.config;

import java.util.Map;
import java.util.regex.Pattern;
import org.springframework.boot.EnvironmentPostProcessor;
import org.springframework.boot.SpringApplication;
import org.springframework.core.Ordered;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.MapPropertySource;

/**
 * Reads a plain number in {@code spring.lifecycle.timeout-per-shutdown-phase} as seconds.
 *
 * <p>The deployer passes {@code SPRING_LIFECYCLE_TIMEOUT_PER_SHUTDOWN_PHASE=20} meaning 20 seconds
 * (its compose file derives the container's stop grace period from the same number). Spring Boot
 * reads a unit-less duration as milliseconds, which would end the graceful shutdown after 20 ms and
 * cut in-flight requests during every rolling release. {@code 20s}, {@code 500ms}, {@code PT20S}
 * are left alone.
 */
public class PlainSecondsEnvironmentPostProcessor implements EnvironmentPostProcessor, Ordered {
    static final String PROPERTY = "spring.lifecycle.timeout-per-shutdown-phase";
    static final String SOURCE = "plainSecondsAsDurations";
    private static final Pattern PLAIN_NUMBER = Pattern.compile("\\s*\\d+\\s*");

    @Override
    public void postProcessEnvironment(ConfigurableEnvironment environment, SpringApplication application) {
        String value = environment.getProperty(PROPERTY);
        if (value != null && PLAIN_NUMBER.matcher(value).matches()) {
            environment.getPropertySources().addFirst(
                    new MapPropertySource(SOURCE, Map.of(PROPERTY, value.strip() + "s")));
        }
    }

    /** After the config data (application.properties, config trees) has been loaded. */
    @Override
    public int getOrder() {
        return Ordered.LOWEST_PRECEDENCE;
    }
}
