package io.deployer.demo;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.fail;

import java.util.Map;
import org.junit.Test;

public class JsonTest {
    @Test
    public void quotesAndEscapes() {
        assertEquals("\"a\\\"b\\\\c\\n\\u003cx\\u003e\\u0001\"", Json.quote("a\"b\\c\n<x>\u0001"));
        assertEquals("null", Json.quote(null));
    }

    @Test
    public void parsesFlatObject() throws Exception {
        Map<String, Object> m = Json.parseFlatObject(
                " {\"name\": \"caf\\u00e9 \\\"x\\\"\", \"description\": null, \"n\": -12, \"f\": 1.5e2, \"b\": true} ");
        assertEquals("café \"x\"", m.get("name"));
        assertNull(m.get("description"));
        assertEquals(-12L, m.get("n"));
        assertEquals(150.0, m.get("f"));
        assertEquals(Boolean.TRUE, m.get("b"));
        assertEquals(0, Json.parseFlatObject("{}").size());
    }

    @Test
    public void roundTripsQuotedText() throws Exception {
        String tricky = "tab\t quote\" slash\\ nl\n ü ✓ <script>";
        assertEquals(tricky, Json.parseFlatObject("{\"k\":" + Json.quote(tricky) + "}").get("k"));
    }

    @Test
    public void rejectsMalformedInput() {
        for (String bad : new String[] {"", "[]", "{", "{\"a\"}", "{\"a\":1,}", "{\"a\":[1]}", "{\"a\":{}}",
                "{\"a\":01}", "{\"a\":\"x\"} x", "{\"a\":\"\\q\"}", "{\"a\":tru}", "{a:1}"}) {
            try {
                Json.parseFlatObject(bad);
                fail("accepted " + bad);
            } catch (Json.ParseException expected) {
                // ok
            }
        }
    }
}
