package io.github.pgw.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/** PgwClient over the WebSocket vectors of sdk/conformance/ws.json, against a scripted gateway. */
class WebSocketConformanceTest {
    static final JsonObject WS = Vectors.read("ws.json");

    static PgwClient.Builder client(FakeGateway gw) {
        return PgwClient.builder().url(gw.url()).token("t0k3n").device("desktop").session("app-1").client("crm/2.1")
                .backoff(1, 5).goingAwayJitterMs(1).requestTimeoutMs(10_000);
    }

    static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(10, TimeUnit.SECONDS);
    }

    @TestFactory
    Stream<DynamicTest> frames() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonObject v : Vectors.cases(WS, "frames")) {
            String op = v.get("operation").getAsString();
            tests.add(DynamicTest.dynamicTest(op + " " + v.get("args"), () -> {
                JsonObject a = v.getAsJsonObject("args");
                try (FakeGateway gw = new FakeGateway()) {
                    gw.accept();
                    PgwClient.Builder b = client(gw);
                    if (op.equals("hello")) {
                        b.token(Vectors.str(a, "token")).session(Vectors.str(a, "session")).window(Vectors.str(a, "window"))
                                .device(Vectors.str(a, "device")).client(Vectors.str(a, "client"));
                    }
                    PgwClient c = b.build();
                    try {
                        FakeGateway.Conn conn = gw.conn();
                        JsonObject hello = conn.welcome("app-1");
                        await(c.ready());
                        JsonObject sent;
                        if (op.equals("hello")) {
                            sent = hello;
                        } else {
                            switch (op) {
                                case "status":
                                    c.status(Vectors.str(a, "status"), Vectors.str(a, "note"));
                                    break;
                                case "idle":
                                    c.idle(a.get("idle").getAsBoolean());
                                    break;
                                case "subscribe":
                                    if (a.has("tenant")) c.subscribeTenant();
                                    else c.subscribe(Vectors.strings(a, "users"));
                                    break;
                                case "unsubscribe":
                                    c.unsubscribe(Vectors.strings(a, "users"));
                                    break;
                                case "logout":
                                    c.logout();
                                    break;
                                case "refresh":
                                    c.refresh(Vectors.str(a, "token"));
                                    break;
                                default: {
                                    JsonObject f = a.deepCopy();
                                    f.addProperty("type", op);
                                    c.request(f);
                                }
                            }
                            sent = conn.next();
                        }
                        assertTrue(sent.has("id"), "the frame has an id");
                        JsonObject got = sent.deepCopy();
                        got.remove("id");
                        assertEquals(v.get("frame"), got);
                    } finally {
                        c.close();
                    }
                }
            }));
        }
        return tests.stream();
    }

    @TestFactory
    Stream<DynamicTest> replies() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonObject r : Vectors.cases(WS, "replies")) {
            tests.add(DynamicTest.dynamicTest(r.get("name").getAsString(), () -> {
                JsonObject a = r.getAsJsonObject("args");
                try (FakeGateway gw = new FakeGateway()) {
                    gw.accept();
                    PgwClient c = client(gw).build();
                    try {
                        FakeGateway.Conn conn = gw.conn();
                        conn.welcome("app-1");
                        await(c.ready());
                        CompletableFuture<?> call;
                        switch (r.get("operation").getAsString()) {
                            case "status":
                                call = c.status(Vectors.str(a, "status"), Vectors.str(a, "note"));
                                break;
                            case "subscribe":
                                call = c.subscribe(Vectors.strings(a, "users"));
                                break;
                            case "refresh":
                                call = c.refresh(Vectors.str(a, "token"));
                                break;
                            default: {
                                JsonObject f = a.deepCopy();
                                f.addProperty("type", r.get("operation").getAsString());
                                call = c.request(f);
                            }
                        }
                        JsonObject req = conn.next();
                        JsonObject reply = r.getAsJsonObject("reply").deepCopy();
                        reply.add("id", req.get("id"));
                        conn.send(reply);
                        if (r.has("error")) {
                            ExecutionException ee = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class, () -> call.get(10, TimeUnit.SECONDS));
                            assertInstanceOf(PgwException.class, ee.getCause());
                            PgwException e = (PgwException) ee.getCause();
                            JsonObject we = r.getAsJsonObject("error");
                            assertEquals(we.get("status").getAsInt(), e.getStatus());
                            assertEquals(we.get("code").getAsString(), e.getCode());
                            assertEquals(we.get("detail").getAsString(), e.getDetail());
                            assertEquals(we.get("errors"), Json.GSON.toJsonTree(e.getErrors()));
                        } else {
                            Object v = call.get(10, TimeUnit.SECONDS);
                            JsonObject want = r.getAsJsonObject("result");
                            if (v instanceof Long) assertEquals(want.get("expires").getAsLong(), v);
                            else assertEquals(want, v);
                        }
                    } finally {
                        c.close();
                    }
                }
            }));
        }
        return tests.stream();
    }

    @TestFactory
    Stream<DynamicTest> ordering() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonObject o : Vectors.cases(WS, "ordering")) {
            tests.add(DynamicTest.dynamicTest(o.get("name").getAsString(), () -> runOrdering(o)));
        }
        return tests.stream();
    }

    private static void runOrdering(JsonObject o) throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            gw.accept();
            BlockingQueue<Presence> pushes = new LinkedBlockingQueue<>();
            BlockingQueue<Welcome> welcomes = new LinkedBlockingQueue<>();
            PgwClient c = client(gw).listener(new PgwListener() {
                @Override
                public void onPresence(Presence p) { pushes.add(p); }

                @Override
                public void onWelcome(Welcome w) { welcomes.add(w); }
            }).build();
            try {
                FakeGateway.Conn conn = gw.conn();
                conn.welcome("app-1");
                await(c.ready());
                PresenceView view = null;
                for (JsonElement se : o.getAsJsonArray("steps")) {
                    JsonObject step = se.getAsJsonObject();
                    if (step.has("subscribe")) {
                        CompletableFuture<PresenceView> f = c.subscribe(Vectors.strings(step, "subscribe"));
                        JsonObject req = conn.next("subscribe");
                        JsonObject fields = new JsonObject();
                        fields.add("presence", step.get("reply"));
                        conn.ok(req, fields);
                        view = await(f);
                        pushes.clear();
                    } else if (step.has("reconnect")) {
                        gw.accept();
                        conn.close(1001, "shutdown");
                        conn = gw.conn();
                        conn.welcome("app-1");
                        JsonObject req = conn.next("subscribe");
                        JsonObject fields = new JsonObject();
                        fields.add("presence", step.get("reply"));
                        conn.ok(req, fields);
                        // The reply is applied on the event thread: wait for the view to hold it.
                        for (JsonElement pe : step.getAsJsonArray("reply")) {
                            JsonObject want = pe.getAsJsonObject();
                            PresenceView v = view;
                            waitFor("the view to take the reconnect's reply for " + want.get("user"), () -> {
                                Presence got = v.get(want.get("user").getAsString());
                                return got != null && Json.GSON.toJsonTree(got).equals(want);
                            });
                        }
                        pushes.clear();
                    } else if (step.has("push")) {
                        JsonObject p = step.getAsJsonObject("push");
                        conn.send(p);
                        // A marker after the push: once its reply is in, the push was handled.
                        CompletableFuture<Void> idle = c.idle(false);
                        conn.ok(conn.next("idle"), null);
                        await(idle);
                        boolean applied = step.get("applied").getAsBoolean();
                        Presence got = pushes.poll();
                        if (applied) {
                            assertNotNull(got, "push " + p + " was applied");
                            assertEquals(p, Json.GSON.toJsonTree(got));
                            assertEquals(p, Json.GSON.toJsonTree(view.get(p.get("user").getAsString())));
                        } else {
                            Presence shown = view.get(p.get("user").getAsString());
                            assertFalse(shown != null && Json.GSON.toJsonTree(shown).equals(p), "push " + p + " was dropped by the view");
                            if (view.getUsers().contains(p.get("user").getAsString())) assertEquals(null, got, "push " + p + " was not given to listeners");
                        }
                    }
                }
                JsonObject fin = o.getAsJsonObject("final");
                assertEquals(fin.size(), view.size(), "users in the view: " + view.asMap().keySet());
                for (String u : fin.keySet()) {
                    Presence p = view.get(u);
                    assertNotNull(p, u);
                    assertEquals(fin.getAsJsonObject(u).get("version").getAsLong(), p.getVersion());
                    assertEquals(fin.getAsJsonObject(u).get("status").getAsString(), p.getStatus());
                }
                assertFalse(welcomes.isEmpty());
            } finally {
                c.close();
            }
        }
    }

    interface Check {
        boolean ok() throws Exception;
    }

    /** Polls until check is true; fails after 10 s (no sleeps as synchronisation: a deadline). */
    static void waitFor(String what, Check check) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!check.ok()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
            Thread.sleep(5);
        }
    }

    static List<String> list(String... s) {
        List<String> l = new ArrayList<>();
        Collections.addAll(l, s);
        return l;
    }
}
