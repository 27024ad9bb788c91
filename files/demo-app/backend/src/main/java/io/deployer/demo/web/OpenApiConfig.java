package io.deployer.demo.web;

import io.deployer.demo.AppProperties;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.info.Info;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Title and release of the generated description at /v3/api-docs (springdoc). */
@Configuration(proxyBeanMethods = false)
public class OpenApiConfig {

    @Bean
    OpenAPI openApi(AppProperties properties) {
        return new OpenAPI().info(new Info()
                .title("demo-api")
                .version(properties.version())
                .description("Items stored in PostgreSQL; the list is cached in Redis (X-Cache: HIT|MISS)."
                        + " Errors are RFC 9457 problem documents."));
    }
}
