package io.deployer.demo.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.post;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.header;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import io.deployer.demo.AppProperties;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest;
import org.springframework.test.web.servlet.MockMvc;

@WebMvcTest(controllers = InfoController.class, properties = "app.version=1.2.3")
class InfoControllerTest {

    /** @ConfigurationPropertiesScan of the application class does not reach into slices. */
    @TestConfiguration
    @EnableConfigurationProperties(AppProperties.class)
    static class Properties {
    }

    @Autowired
    private MockMvc mvc;

    @Test
    void infoNamesVersionInstanceAndStart() throws Exception {
        mvc.perform(get("/api/info"))
                .andExpect(status().isOk())
                .andExpect(header().string("Cache-Control", "no-store"))
                .andExpect(jsonPath("$.version").value("1.2.3"))
                .andExpect(jsonPath("$.instance").isString())
                .andExpect(jsonPath("$.startedAt").isString());
    }

    @Test
    void infoIsReadOnly() throws Exception {
        mvc.perform(post("/api/info")).andExpect(ProblemAssertions.cleanProblem(405));
    }

    @Test
    void instanceIsTheHostNameGiven() {
        assertThat(InfoController.hostname("backend-7f9c")).isEqualTo("backend-7f9c");
        assertThat(InfoController.hostname(" ")).isNotBlank();
        assertThat(InfoController.hostname(null)).isNotBlank();
    }
}
