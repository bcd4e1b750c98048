package io.github.pgw.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/** PgwApi and the close-code table over the shared vectors of sdk/conformance. */
class ConformanceTest {

    /** A Random whose jitter is 0, as the vectors' waits assume. */
    static final class ZeroRandom extends Random {
        private static final long serialVersionUID = 1L;

        @Override
        public double nextDouble() { return 0; }
    }

    @TestFactory
    Stream<DynamicTest> closeCodesFollowTheGeneratedTable() {
        JsonObject table = Vectors.read("close-codes.json");
        List<DynamicTest> tests = new ArrayList<>();
        List<JsonObject> codes = Vectors.cases(table, "closeCodes");
        assertTrue(codes.size() >= 11, "close-codes.json lists " + codes.size() + " codes");
        for (JsonObject c : codes) {
            int code = c.get("close").getAsInt();
            String want = c.get("reconnect").getAsString();
            tests.add(DynamicTest.dynamicTest("close " + code + " → " + want,
                    () -> assertEquals(want, Reconnect.forCloseCode(code).name().toLowerCase(java.util.Locale.ROOT))));
        }
        String unlisted = table.get("unlisted").getAsString();
        for (int code : new int[] {1005, 1006, 1011, 1012, 4000}) {
            tests.add(DynamicTest.dynamicTest("unlisted close " + code + " → " + unlisted, () -> {
                for (JsonObject c : codes) assertFalse(c.get("close").getAsInt() == code);
                assertEquals(unlisted, Reconnect.forCloseCode(code).name().toLowerCase(java.util.Locale.ROOT));
            }));
        }
        return tests.stream();
    }

    @TestFactory
    Stream<DynamicTest> httpApi() {
        JsonObject http = Vectors.read("http.json");
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonObject c : Vectors.cases(http, "cases")) {
            tests.add(DynamicTest.dynamicTest(c.get("name").getAsString(), () -> runHttpCase(http, c)));
        }
        return tests.stream();
    }

    private static void runHttpCase(JsonObject http, JsonObject c) throws Exception {
        try (MockWebServer server = new MockWebServer()) {
            JsonArray answers = c.getAsJsonArray("responses");
            for (JsonElement e : answers) {
                JsonObject a = e.getAsJsonObject();
                MockResponse r = new MockResponse().setResponseCode(a.get("status").getAsInt());
                for (Map.Entry<String, JsonElement> h : a.getAsJsonObject("headers").entrySet()) r.setHeader(h.getKey(), h.getValue().getAsString());
                if (a.has("text")) r.setBody(a.get("text").getAsString());
                else if (a.has("body")) r.setBody(a.get("body").toString());
                server.enqueue(r);
            }
            server.start();
            String base = server.url("/").toString();
            List<Long> waits = new ArrayList<>();
            JsonObject retry = http.getAsJsonObject("retry");
            PgwApi api = PgwApi.builder().baseUrl(base).token(http.get("token").getAsString())
                    .maxAttempts(retry.get("maxAttempts").getAsInt()).maxWaitMs(retry.get("maxWaitMs").getAsLong())
                    .random(new ZeroRandom()).sleeper(waits::add).build();
            Object result = null;
            Throwable error = null;
            try {
                result = Vectors.invoke(api, c.get("operation").getAsString(), c.getAsJsonObject("args"));
            } catch (RuntimeException e) {
                error = e;
            }
            // Every attempt sent the vector's request.
            assertEquals(answers.size(), server.getRequestCount(), "requests sent");
            JsonObject want = c.getAsJsonObject("request");
            for (int i = 0; i < answers.size(); i++) {
                RecordedRequest r = server.takeRequest(5, TimeUnit.SECONDS);
                assertEquals(want.get("method").getAsString(), r.getMethod());
                assertEquals(want.get("path").getAsString(), r.getPath());
                for (Map.Entry<String, JsonElement> h : want.getAsJsonObject("headers").entrySet()) {
                    String got = r.getHeader(h.getKey());
                    String w = h.getValue().getAsString();
                    assertTrue(got != null && (got.equals(w) || got.startsWith(w + ";")), "header " + h.getKey() + ": " + got + ", want " + w);
                }
                String body = r.getBody().readUtf8();
                if (want.has("body")) assertEquals(want.get("body"), JsonParser.parseString(body), "request body");
                else assertEquals("", body, "no request body");
            }
            List<Long> wantWaits = new ArrayList<>();
            for (JsonElement w : c.getAsJsonArray("waits")) wantWaits.add(w.getAsLong());
            assertEquals(wantWaits, waits, "waits between attempts");
            if (c.has("error")) {
                JsonObject we = c.getAsJsonObject("error");
                assertInstanceOf(PgwApiException.class, error, "raised");
                PgwApiException e = (PgwApiException) error;
                assertInstanceOf(PgwException.class, e);
                assertEquals(we.get("status").getAsInt(), e.getStatus());
                assertEquals(we.get("code").getAsString(), e.getCode());
                if (we.has("detail")) assertEquals(we.get("detail").getAsString(), e.getDetail());
                assertEquals(we.get("errors"), Json.GSON.toJsonTree(e.getErrors()));
                JsonElement ra = we.get("retryAfter");
                if (ra == null || ra instanceof JsonNull) assertNull(e.getRetryAfter());
                else assertEquals(Integer.valueOf(ra.getAsInt()), e.getRetryAfter());
            } else {
                if (error != null) fail("raised " + error, error);
                JsonElement wantResult = c.get("result");
                if (wantResult == null || wantResult.isJsonNull()) assertNull(result);
                else assertEquals(wantResult, Json.GSON.toJsonTree(result), "result");
            }
        }
    }

    @TestFactory
    Stream<DynamicTest> argumentValidation() {
        JsonObject v = Vectors.read("validation.json");
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonObject c : Vectors.cases(v, "cases")) {
            String op = c.get("operation").getAsString();
            String name = (op + " " + c.get("argument").getAsString() + ": " + c.get("args")).replaceAll("(.{0,120}).*", "$1");
            tests.add(DynamicTest.dynamicTest(name, () -> {
                JsonObject args = Vectors.expand(c.get("args")).getAsJsonObject();
                MockWebServer server = new MockWebServer(); // never started: nothing may be sent
                PgwArgumentException e = assertThrows(PgwArgumentException.class, () -> {
                    if (op.equals("createApi")) {
                        PgwApi.Builder b = PgwApi.builder().baseUrl(Vectors.str(args, "baseUrl"));
                        if (args.has("token")) b.token(Vectors.str(args, "token"));
                        b.build();
                    } else {
                        Vectors.invoke(PgwApi.builder().baseUrl("http://127.0.0.1:1").token("t").build(), op, args);
                    }
                });
                assertEquals(c.get("argument").getAsString(), e.getArgument());
                assertTrue(e.getMessage().contains("\"" + c.get("argument").getAsString() + "\""), e.getMessage());
                for (JsonElement m : c.getAsJsonArray("mentions")) {
                    assertTrue(e.getMessage().contains(m.getAsString()), "message " + e.getMessage() + " lacks " + m);
                }
                assertEquals(0, server.getRequestCount());
                server.close();
            }));
        }
        return tests.stream();
    }
}
