package io.github.pgw.client;

import static io.github.pgw.client.WebSocketConformanceTest.await;
import static io.github.pgw.client.WebSocketConformanceTest.client;
import static io.github.pgw.client.WebSocketConformanceTest.list;
import static io.github.pgw.client.WebSocketConformanceTest.waitFor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** What the vectors cannot say: reconnects per close code, 4401 and a new token, refresh, threads, the bridge. */
class ClientBehaviourTest {

    static JsonObject problem(String code, int status, String title, String detail) {
        JsonObject p = new JsonObject();
        p.addProperty("type", "about:blank");
        p.addProperty("title", title);
        p.addProperty("status", status);
        p.addProperty("code", code);
        p.addProperty("detail", detail);
        return p;
    }

    static void refuse(FakeGateway.Conn conn, JsonObject hello, JsonObject problem, int close) {
        JsonObject e = new JsonObject();
        e.addProperty("type", "error");
        e.add("id", hello.get("id"));
        e.add("error", problem);
        conn.send(e);
        conn.close(close, problem.get("code").getAsString());
    }

    /** Records state changes and the threads callbacks ran on. */
    static final class Recorder implements PgwListener {
        final List<StateChange> states = new CopyOnWriteArrayList<>();
        final List<String> threads = new CopyOnWriteArrayList<>();
        final List<String> byes = new CopyOnWriteArrayList<>();
        final List<Throwable> errors = new CopyOnWriteArrayList<>();

        @Override
        public void onState(StateChange c) {
            states.add(c);
            threads.add(Thread.currentThread().getName());
        }

        @Override
        public void onBye(String reason) { byes.add(reason); }

        @Override
        public void onError(Throwable error) { errors.add(error); }

        boolean reached(ConnectionState s) {
            for (StateChange c : states) if (c.getState() == s) return true;
            return false;
        }
    }

    @Test
    void refusedHelloWithoutSupplierClosesWithTheServersProblem() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            gw.accept();
            Recorder rec = new Recorder();
            PgwClient c = client(gw).listener(rec).build();
            FakeGateway.Conn conn = gw.conn();
            refuse(conn, conn.next("hello"), problem("token_expired", 401, "Token expired", "exp has passed"), 4401);
            ExecutionException ee = assertThrows(ExecutionException.class, () -> c.ready().get(10, TimeUnit.SECONDS));
            assertInstanceOf(PgwException.class, ee.getCause());
            assertEquals("token_expired", ((PgwException) ee.getCause()).getCode());
            waitFor("closed", () -> c.getState() == ConnectionState.CLOSED);
            StateChange last = rec.states.get(rec.states.size() - 1);
            assertEquals(4401, last.getCode());
            assertEquals(1, gw.server.getRequestCount(), "no reconnect without a way to get a new token");
        }
    }

    @Test
    void forbiddenIsFinal() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            gw.accept();
            PgwClient c = client(gw).build();
            FakeGateway.Conn conn = gw.conn();
            refuse(conn, conn.next("hello"), problem("forbidden", 403, "Forbidden", "session app-1 belongs to another user"), 4403);
            waitFor("closed", () -> c.getState() == ConnectionState.CLOSED);
            ExecutionException ee = assertThrows(ExecutionException.class, () -> c.status("busy", null).get(10, TimeUnit.SECONDS));
            assertInstanceOf(PgwException.class, ee.getCause());
        }
    }

    @Test
    void a4401IsRetriedWithANewTokenFromTheSupplier() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            gw.accept();
            gw.accept();
            AtomicInteger calls = new AtomicInteger();
            PgwClient c = client(gw).token(null).tokenSupplier(() -> "tok-" + calls.incrementAndGet()).build();
            FakeGateway.Conn first = gw.conn();
            JsonObject hello1 = first.next("hello");
            assertEquals("tok-1", hello1.get("token").getAsString());
            refuse(first, hello1, problem("token_signature", 401, "Token signature invalid", "bad signature"), 4401);
            FakeGateway.Conn second = gw.conn();
            JsonObject hello2 = second.welcome("app-1");
            assertEquals("tok-2", hello2.get("token").getAsString());
            assertEquals("app-1", hello2.get("session").getAsString(), "the same session after the reconnect");
            await(c.ready());
            c.close();
        }
    }

    @Test
    void drainReconnectsAtOnceResubscribesAndReassertsIdle() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            gw.accept();
            Recorder rec = new Recorder();
            PgwClient c = client(gw).listener(rec).build();
            FakeGateway.Conn conn = gw.conn();
            conn.welcome("app-1");
            CompletableFuture<PresenceView> sub = c.subscribe(list("alice", "bob"));
            JsonObject fields = JsonParser.parseString("{\"presence\":[]}").getAsJsonObject();
            conn.ok(conn.next("subscribe"), fields);
            await(sub);
            CompletableFuture<Void> idle = c.idle(true);
            conn.ok(conn.next("idle"), null);
            await(idle);

            gw.accept();
            JsonObject bye = new JsonObject();
            bye.addProperty("type", "bye");
            bye.addProperty("reason", "shutdown");
            conn.send(bye);
            conn.close(1001, "shutdown");
            FakeGateway.Conn conn2 = gw.conn();
            conn2.welcome("app-1");
            JsonObject resub = conn2.next("subscribe");
            assertEquals(Arrays.asList("alice", "bob"), Vectors.strings(resub, "users"));
            JsonObject idle2 = conn2.next("idle");
            assertTrue(idle2.get("idle").getAsBoolean());
            waitFor("bye reported", () -> rec.byes.contains("shutdown"));
            boolean sawReconnecting = false;
            for (StateChange s : rec.states) {
                if (s.getState() == ConnectionState.RECONNECTING) {
                    sawReconnecting = true;
                    assertEquals(1001, s.getCode());
                    assertTrue(s.getDelayMs() < 1, "1001: at once, within the jitter window (1 ms here)");
                }
            }
            assertTrue(sawReconnecting);
            c.close();
        }
    }

    @Test
    void requestsWaitWhileReconnectingAndLostStatusIsResent() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            gw.accept();
            PgwClient c = client(gw).build();
            FakeGateway.Conn conn = gw.conn();
            conn.welcome("app-1");
            await(c.ready());
            CompletableFuture<Void> st = c.status("busy", "call");
            conn.next("status"); // not answered: the connection drops first
            CompletableFuture<JsonObject> req = c.request(JsonParser.parseString("{\"type\":\"ipt.event\",\"bridge\":\"b\",\"seq\":1,\"ext\":\"1\",\"event\":\"registered\"}").getAsJsonObject());
            conn.next("ipt.event");
            gw.accept();
            conn.close(4500, "internal");
            ExecutionException ee = assertThrows(ExecutionException.class, () -> req.get(10, TimeUnit.SECONDS));
            assertInstanceOf(PgwConnectionException.class, ee.getCause());
            assertEquals(PgwConnectionException.Kind.LOST, ((PgwConnectionException) ee.getCause()).getKind());
            FakeGateway.Conn conn2 = gw.conn();
            conn2.welcome("app-1");
            JsonObject again = conn2.next("status");
            assertEquals("busy", again.get("status").getAsString());
            conn2.ok(again, null);
            await(st);
            c.close();
        }
    }

    @Test
    void expiringRefreshesWithTheSuppliersToken() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            gw.accept();
            AtomicInteger calls = new AtomicInteger();
            PgwClient c = client(gw).token(null).tokenSupplier(() -> "tok-" + calls.incrementAndGet()).build();
            FakeGateway.Conn conn = gw.conn();
            conn.welcome("app-1");
            await(c.ready());
            JsonObject exp = new JsonObject();
            exp.addProperty("type", "expiring");
            exp.addProperty("expires", System.currentTimeMillis() / 1000 + 60);
            conn.send(exp);
            JsonObject refresh = conn.next("refresh");
            assertEquals("tok-2", refresh.get("token").getAsString());
            JsonObject fields = new JsonObject();
            long newExp = System.currentTimeMillis() / 1000 + 7200;
            fields.addProperty("expires", newExp);
            conn.ok(refresh, fields);
            waitFor("new expires", () -> c.getExpires() == newExp);
            c.close();
        }
    }

    @Test
    void callbacksRunOnTheClientsOneEventThread() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            gw.accept();
            Recorder rec = new Recorder();
            List<String> futureThreads = Collections.synchronizedList(new ArrayList<String>());
            PgwClient c = client(gw).listener(rec).build();
            FakeGateway.Conn conn = gw.conn();
            conn.welcome("app-1");
            c.ready().thenRun(() -> futureThreads.add(Thread.currentThread().getName())).get(10, TimeUnit.SECONDS);
            c.close();
            waitFor("closed", () -> rec.reached(ConnectionState.CLOSED));
            assertTrue(rec.threads.size() >= 2);
            for (String t : rec.threads) assertEquals(rec.threads.get(0), t);
            assertTrue(rec.threads.get(0).startsWith("pgw-client-"), rec.threads.get(0));
        }
    }

    @Test
    void logoutCompletesOnTheServersCloseAndTheClientStaysClosed() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            gw.accept();
            Recorder rec = new Recorder();
            PgwClient c = client(gw).listener(rec).build();
            FakeGateway.Conn conn = gw.conn();
            conn.welcome("app-1");
            await(c.ready());
            CompletableFuture<Void> out = c.logout();
            conn.next("logout");
            JsonObject bye = new JsonObject();
            bye.addProperty("type", "bye");
            bye.addProperty("reason", "logged_out");
            conn.send(bye);
            conn.close(1000, "logged_out");
            await(out);
            waitFor("closed", () -> c.getState() == ConnectionState.CLOSED);
            assertEquals(1, gw.server.getRequestCount(), "1000 is final: no reconnect");
            // One CLOSED, with the server's reason (not a second, local close).
            long closed = rec.states.stream().filter(x -> x.getState() == ConnectionState.CLOSED).count();
            assertEquals(1, closed, "CLOSED reported once: " + rec.states);
            assertEquals("logged_out", rec.states.get(rec.states.size() - 1).getReason());
        }
    }

    @Test
    void bridgeSyncsAfterEveryWelcomeAndNumbersEventsFromOne() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            gw.accept();
            List<SyncDevice> truth = new CopyOnWriteArrayList<>(Collections.singletonList(SyncDevice.of("1001", "alice", "registered")));
            PgwBridge bridge = PgwBridge.start(client(gw), "pbx1", () -> truth);
            FakeGateway.Conn conn = gw.conn();
            JsonObject hello = conn.welcome("app-1");
            assertEquals("bridge", hello.get("device").getAsString());
            JsonObject sync = conn.next("ipt.sync");
            assertEquals("pbx1", sync.get("bridge").getAsString());
            assertEquals(1, sync.getAsJsonArray("devices").size());
            conn.ok(sync, JsonParser.parseString("{\"devices\":1}").getAsJsonObject());
            await(bridge.synced());
            CompletableFuture<JsonObject> e1 = bridge.event(IptEvent.of("1001", "ringing").call("c1").direction("inbound"));
            CompletableFuture<JsonObject> e2 = bridge.event(IptEvent.of("1001", "answered").call("c1"));
            JsonObject f1 = conn.next("ipt.event");
            JsonObject f2 = conn.next("ipt.event");
            assertEquals(1, f1.get("seq").getAsLong());
            assertEquals(2, f2.get("seq").getAsLong());
            assertEquals("pbx1", f1.get("bridge").getAsString());
            conn.ok(f1, null);
            conn.ok(f2, null);
            await(e1);
            await(e2);
            assertThrows(PgwArgumentException.class, () -> bridge.event(IptEvent.of("1001", "exploded")));

            // After a reconnect: a new sync with the current truth, and the sequence starts again.
            truth.add(SyncDevice.of("1002", "bob", "unregistered"));
            gw.accept();
            conn.close(1011, "restart");
            FakeGateway.Conn conn2 = gw.conn();
            conn2.welcome("app-1");
            JsonObject sync2 = conn2.next("ipt.sync");
            assertEquals(2, sync2.getAsJsonArray("devices").size());
            conn2.ok(sync2, JsonParser.parseString("{\"devices\":2}").getAsJsonObject());
            CompletableFuture<JsonObject> e3 = bridge.event(IptEvent.of("1002", "registered"));
            JsonObject f3 = conn2.next("ipt.event");
            assertEquals(1, f3.get("seq").getAsLong());
            conn2.ok(f3, null);
            await(e3);
            bridge.close();
            waitFor("closed", () -> bridge.client().getState() == ConnectionState.CLOSED);
            ExecutionException ee = assertThrows(ExecutionException.class, () -> bridge.event(IptEvent.of("1001", "registered")).get(10, TimeUnit.SECONDS));
            assertInstanceOf(PgwConnectionException.class, ee.getCause());
        }
    }

    @Test
    void builderChecksItsArguments() {
        PgwArgumentException e = assertThrows(PgwArgumentException.class, () -> PgwClient.builder().url("http://x/v1/ws").token("t").device("desktop").build());
        assertEquals("url", e.getArgument());
        e = assertThrows(PgwArgumentException.class, () -> PgwClient.builder().url("ws://x/v1/ws").token("t").device("phone").build());
        assertEquals("device", e.getArgument());
        assertTrue(e.getMessage().contains("\"phone\""), e.getMessage());
        e = assertThrows(PgwArgumentException.class, () -> PgwClient.builder().url("ws://x/v1/ws").token("t").device("desktop").session("a b").build());
        assertEquals("session", e.getArgument());
    }
}
