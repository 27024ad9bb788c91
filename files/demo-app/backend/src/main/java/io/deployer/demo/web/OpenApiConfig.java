package io.deployer.demo.web;

import io.deployer.demo.AppProperties;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.info.Info;
import io.swagger.v3.oas.models.servers.Server;
import java.util.List;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Title and release of the generated description at /api/docs/openapi.json (springdoc). Its one server is
 * "/", the origin the document was read from: Swagger UI's "Try it out" then calls the API the browser
 * already talks to (the edge), never the address the application sees behind it.
 */
@Configuration(proxyBeanMethods = false)
public class OpenApiConfig {

    @Bean
    OpenAPI openApi(AppProperties properties) {
        return new OpenAPI().servers(List.of(new Server().url("/").description("this origin"))).info(new Info()
                .title("demo-api")
                .version(properties.version())
                .description("Items stored in PostgreSQL; the list is cached in Redis (X-Cache: HIT|MISS)."
                        + " Errors are RFC 9457 problem documents."));
    }
}
