package io.deployer.demo.web;

import io.deployer.demo.AppProperties;
import java.net.InetAddress;
import java.time.Instant;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** {@code GET /api/info}: which release and which instance answered (the deployer's tests read "version"). */
@RestController
public class InfoController {

    /** @param instance the container's host name; tells instances apart during a rolling release */
    public record Info(String version, String instance, Instant startedAt) {
    }

    private final Info info;

    public InfoController(AppProperties properties) {
        this.info = new Info(properties.version(), hostname(System.getenv("HOSTNAME")), Instant.now());
    }

    @GetMapping(path = "/api/info", produces = "application/json")
    public Info info() {
        return info;
    }

    static String hostname(String fromEnvironment) {
        if (fromEnvironment != null && !fromEnvironment.isBlank()) {
            return fromEnvironment;
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (Exception e) {
            return "unknown";
        }
    }
}
