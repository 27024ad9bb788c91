package io.deployer.demo.items;

import static io.deployer.demo.web.ProblemAssertions.cleanProblem;
import static org.hamcrest.Matchers.containsString;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.BDDMockito.given;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.delete;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.head;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.post;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.put;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.content;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.header;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest;
import org.springframework.http.MediaType;
import org.springframework.jdbc.CannotGetJdbcConnectionException;
import org.springframework.test.context.bean.override.mockito.MockitoBean;
import org.springframework.test.web.servlet.MockMvc;
import org.springframework.test.web.servlet.request.MockHttpServletRequestBuilder;

/** The /api/items contract (status, headers, JSON) and every client error as a problem document. */
@WebMvcTest(ItemController.class)
class ItemControllerTest {
    private static final Instant CREATED = Instant.parse("2026-01-02T03:04:05.123456Z");
    private static final Item ITEM = new Item(42, "pen", null, CREATED);

    @Autowired
    private MockMvc mvc;

    @MockitoBean
    private ItemService items;

    private static MockHttpServletRequestBuilder postJson(String json) {
        return post("/api/items").contentType(MediaType.APPLICATION_JSON).content(json);
    }

    @Test
    void listSaysMissThenHitAndIsNeverCachedByClients() throws Exception {
        given(items.list()).willReturn(new ItemService.Listing(
                "[{\"id\":42,\"name\":\"pen\",\"description\":null,\"createdAt\":\"2026-01-02T03:04:05.123456Z\"}]"
                        .getBytes(StandardCharsets.UTF_8), false));
        mvc.perform(get("/api/items"))
                .andExpect(status().isOk())
                .andExpect(header().string("X-Cache", "MISS"))
                .andExpect(header().string("Cache-Control", "no-store"))
                .andExpect(header().string("X-Content-Type-Options", "nosniff"))
                .andExpect(content().contentTypeCompatibleWith(MediaType.APPLICATION_JSON))
                .andExpect(content().json("""
                        [{"id":42,"name":"pen","description":null,"createdAt":"2026-01-02T03:04:05.123456Z"}]""", true));

        given(items.list()).willReturn(new ItemService.Listing("[]".getBytes(StandardCharsets.UTF_8), true));
        mvc.perform(get("/api/items")).andExpect(header().string("X-Cache", "HIT")).andExpect(content().json("[]"));
    }

    @Test
    void headOfTheListWorksForProbes() throws Exception {
        given(items.list()).willReturn(new ItemService.Listing("[]".getBytes(StandardCharsets.UTF_8), true));
        mvc.perform(head("/api/items")).andExpect(status().isOk()).andExpect(header().string("X-Cache", "HIT"));
    }

    @Test
    void getOneItem() throws Exception {
        given(items.find(42)).willReturn(Optional.of(ITEM));
        mvc.perform(get("/api/items/42"))
                .andExpect(status().isOk())
                .andExpect(jsonPath("$.id").value(42))
                .andExpect(jsonPath("$.name").value("pen"))
                .andExpect(jsonPath("$.createdAt").value("2026-01-02T03:04:05.123456Z"));
    }

    @Test
    void createAnswers201WithLocationAndTheStoredItem() throws Exception {
        given(items.create("pen", "blue")).willReturn(new Item(43, "pen", "blue", CREATED));
        mvc.perform(postJson("{\"name\":\"  pen \",\"description\":\"blue\",\"ignored\":1}"))
                .andExpect(status().isCreated())
                .andExpect(header().string("Location", "/api/items/43"))
                .andExpect(content().json("""
                        {"id":43,"name":"pen","description":"blue","createdAt":"2026-01-02T03:04:05.123456Z"}""", true));
    }

    @Test
    void nameLimitCountsCharactersAfterStripping() throws Exception {
        String emoji = "\uD83D\uDE00".repeat(200);   // 200 characters, 400 UTF-16 units
        given(items.create(anyString(), any())).willReturn(ITEM);
        mvc.perform(postJson("{\"name\":\"  " + emoji + "  \"}")).andExpect(status().isCreated());
        verify(items).create(emoji, null);
    }

    @Test
    void unknownIdIs404() throws Exception {
        given(items.find(7)).willReturn(Optional.empty());
        mvc.perform(get("/api/items/7"))
                .andExpect(cleanProblem(404))
                .andExpect(jsonPath("$.detail").value("item 7 not found"))
                .andExpect(jsonPath("$.message").value("item 7 not found"))
                .andExpect(jsonPath("$.instance").value("/api/items/7"));
    }

    @Test
    void nonNumericIdIs400() throws Exception {
        mvc.perform(get("/api/items/abc"))
                .andExpect(cleanProblem(400))
                .andExpect(jsonPath("$.detail").value("'id' must be a whole number"));
        mvc.perform(get("/api/items/99999999999999999999")).andExpect(cleanProblem(400));
    }

    @Test
    void malformedJsonIs400() throws Exception {
        mvc.perform(postJson("{\"name\": \"pen\""))
                .andExpect(cleanProblem(400))
                .andExpect(jsonPath("$.detail").value("the request body is not valid JSON"));
        verify(items, never()).create(anyString(), any());
    }

    @Test
    void missingBodyIs400() throws Exception {
        mvc.perform(post("/api/items").contentType(MediaType.APPLICATION_JSON))
                .andExpect(cleanProblem(400))
                .andExpect(jsonPath("$.detail").value("a JSON request body is required"));
    }

    @Test
    void bodyThatIsNoObjectIs400() throws Exception {
        mvc.perform(postJson("[1, 2]"))
                .andExpect(cleanProblem(400))
                .andExpect(jsonPath("$.detail").value("the request body must be a JSON object"));
    }

    @Test
    void nameOfTheWrongTypeIs400() throws Exception {
        mvc.perform(postJson("{\"name\": 5}"))
                .andExpect(cleanProblem(400))
                .andExpect(jsonPath("$.detail").value("'name' has the wrong type (expected a string)"));
        mvc.perform(postJson("{\"name\": true}")).andExpect(cleanProblem(400));
        mvc.perform(postJson("{\"name\": {\"a\": 1}}")).andExpect(cleanProblem(400));
    }

    @Test
    void missingNameIs400() throws Exception {
        mvc.perform(postJson("{\"description\":\"no name\"}"))
                .andExpect(cleanProblem(400))
                .andExpect(jsonPath("$.detail").value("name is required and must be a non-empty string"))
                .andExpect(jsonPath("$.errors[0].field").value("name"));
    }

    @Test
    void blankNameIs400() throws Exception {
        mvc.perform(postJson("{\"name\":\"  \\t \"}"))
                .andExpect(cleanProblem(400))
                .andExpect(jsonPath("$.errors[0].field").value("name"));
    }

    @Test
    void tooLongNameIs400() throws Exception {
        mvc.perform(postJson("{\"name\":\"" + "x".repeat(201) + "\"}"))
                .andExpect(cleanProblem(400))
                .andExpect(jsonPath("$.detail").value("name must be at most 200 characters"));
    }

    @Test
    void tooLongDescriptionIs400() throws Exception {
        mvc.perform(postJson("{\"name\":\"ok\",\"description\":\"" + "d".repeat(2001) + "\"}"))
                .andExpect(cleanProblem(400))
                .andExpect(jsonPath("$.errors[0].field").value("description"));
    }

    @Test
    void bodyOver16KiBIs413BeforeItIsRead() throws Exception {
        mvc.perform(postJson("{\"name\":\"" + "x".repeat(17_000) + "\"}"))
                .andExpect(cleanProblem(413))
                .andExpect(jsonPath("$.detail").value("the request body is larger than 16384 bytes"));
    }

    @Test
    void wrongMethodIs405WithAllow() throws Exception {
        mvc.perform(delete("/api/items"))
                .andExpect(cleanProblem(405))
                .andExpect(header().string("Allow", containsString("POST")));
        mvc.perform(put("/api/items/1").contentType(MediaType.APPLICATION_JSON).content("{}"))
                .andExpect(cleanProblem(405))
                .andExpect(header().string("Allow", containsString("GET")));
    }

    @Test
    void otherThanJsonIs415() throws Exception {
        mvc.perform(post("/api/items").contentType(MediaType.TEXT_PLAIN).content("name=pen"))
                .andExpect(cleanProblem(415));
    }

    @Test
    void problemsAreProblemJsonAlsoWhenTheClientAsksForJson() throws Exception {
        given(items.find(8)).willReturn(Optional.empty());
        mvc.perform(get("/api/items/8").accept(MediaType.APPLICATION_JSON)).andExpect(cleanProblem(404));
    }

    @Test
    void unknownPathIs404() throws Exception {
        mvc.perform(get("/api/nothing-here")).andExpect(cleanProblem(404));
    }

    @Test
    void databaseOutageIs503() throws Exception {
        given(items.list()).willThrow(new CannotGetJdbcConnectionException("Connection to postgres:5432 refused"));
        mvc.perform(get("/api/items"))
                .andExpect(cleanProblem(503))
                .andExpect(jsonPath("$.detail").value("the database is unavailable, try again"))
                .andExpect(content().string(org.hamcrest.Matchers.not(containsString("5432"))));
    }

    @Test
    void unexpectedFailureIs500WithoutInternals() throws Exception {
        given(items.find(9)).willThrow(new IllegalStateException("secret internal state at io.deployer.Foo"));
        mvc.perform(get("/api/items/9"))
                .andExpect(cleanProblem(500))
                .andExpect(jsonPath("$.detail").value("the request could not be served"))
                .andExpect(content().string(org.hamcrest.Matchers.not(containsString("secret"))));
    }
}
