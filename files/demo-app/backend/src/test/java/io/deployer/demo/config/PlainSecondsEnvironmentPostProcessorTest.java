package io.deployer.demo.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.mock.env.MockEnvironment;

class PlainSecondsEnvironmentPostProcessorTest {

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({
        "20, PT20S",          // what the deployer passes: seconds
        "' 45 ', PT45S",
        "20s, PT20S",
        "500ms, PT0.5S",
        "1m, PT1M",
        "PT30S, PT30S",
    })
    void plainNumbersAreSecondsOtherFormsAreKept(String given, String expected) {
        MockEnvironment environment = new MockEnvironment()
                .withProperty(PlainSecondsEnvironmentPostProcessor.PROPERTY, given);
        new PlainSecondsEnvironmentPostProcessor().postProcessEnvironment(environment, null);
        Duration bound = Binder.get(environment)
                .bind(PlainSecondsEnvironmentPostProcessor.PROPERTY, Duration.class).get();
        assertThat(bound).isEqualTo(Duration.parse(expected));
    }

    @org.junit.jupiter.api.Test
    void absentPropertyIsLeftAlone() {
        MockEnvironment environment = new MockEnvironment();
        PlainSecondsEnvironmentPostProcessor processor = new PlainSecondsEnvironmentPostProcessor();
        processor.postProcessEnvironment(environment, null);
        assertThat(environment.getPropertySources().contains(PlainSecondsEnvironmentPostProcessor.SOURCE)).isFalse();
        assertThat(processor.getOrder()).isEqualTo(org.springframework.core.Ordered.LOWEST_PRECEDENCE);
    }
}
