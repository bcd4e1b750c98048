package io.github.pgw.client;

import static io.github.pgw.client.WebSocketConformanceTest.await;
import static io.github.pgw.client.WebSocketConformanceTest.client;
import static io.github.pgw.client.WebSocketConformanceTest.list;
import static io.github.pgw.client.WebSocketConformanceTest.waitFor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * On a welcome the client sends one subscribe per need: subscribes made while not open (or whose
 * reply a dropped connection lost) are answered by the welcome's re-subscribe, not sent again.
 */
class ResubscribeTest {

    static JsonObject presenceReply(String... users) {
        StringBuilder b = new StringBuilder("{\"presence\":[");
        for (int i = 0; i < users.length; i++) {
            if (i > 0) b.append(',');
            b.append("{\"type\":\"presence\",\"tenant\":\"acme\",\"user\":\"").append(users[i])
                    .append("\",\"status\":\"online\",\"manual\":false,\"sessions\":1,\"devices\":[\"desktop\"],\"version\":")
                    .append(i + 2).append('}');
        }
        return JsonParser.parseString(b.append("]}").toString()).getAsJsonObject();
    }

    /**
     * Sends a status request and returns the frames the client sent before it: a second subscribe
     * would be flushed with the first, so it would be among them.
     */
    static List<JsonObject> framesUntilStatus(PgwClient c, FakeGateway.Conn conn) throws Exception {
        CompletableFuture<Void> st = c.status("dnd", null);
        List<JsonObject> before = new ArrayList<>();
        for (;;) {
            JsonObject f = conn.next();
            if ("status".equals(f.get("type").getAsString())) {
                conn.ok(f, null);
                await(st);
                return before;
            }
            before.add(f);
        }
    }

    static long subscribes(List<JsonObject> frames) {
        return frames.stream().filter(f -> "subscribe".equals(f.get("type").getAsString())).count();
    }

    @Test
    void subscribesBeforeTheFirstWelcomeSendOneFrameAndFillTheirViews() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            gw.accept();
            ClientBehaviourTest.Recorder rec = new ClientBehaviourTest.Recorder();
            PgwClient c = client(gw).listener(rec).build();
            CompletableFuture<PresenceView> tenant = c.subscribeTenant();
            CompletableFuture<PresenceView> users = c.subscribe(list("alice"));
            FakeGateway.Conn conn = gw.conn();
            conn.welcome("app-1");
            JsonObject sub = conn.next("subscribe");
            assertEquals(list("alice"), Vectors.strings(sub, "users"));
            assertTrue(sub.get("tenant").getAsBoolean());
            conn.ok(sub, presenceReply("alice", "bob"));
            PresenceView t = await(tenant);
            PresenceView u = await(users);
            assertEquals(3, t.get("bob").getVersion());
            assertEquals(2, u.get("alice").getVersion());
            assertFalse(u.has("bob"));
            assertEquals(0, subscribes(framesUntilStatus(c, conn)), "a second subscribe was sent");
            assertTrue(rec.errors.isEmpty(), rec.errors.toString());
            c.close();
        }
    }

    @Test
    void aSubscribeBeforeOpenFailsWhenTheClientClosesBeforeTheReply() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            gw.accept();
            PgwClient c = client(gw).build();
            CompletableFuture<PresenceView> before = c.subscribe(list("alice"));
            c.close();
            ExecutionException ee = assertThrows(ExecutionException.class, () -> before.get(10, TimeUnit.SECONDS));
            assertInstanceOf(PgwConnectionException.class, ee.getCause());
        }
        try (FakeGateway gw = new FakeGateway()) {
            gw.accept();
            PgwClient c2 = client(gw).build();
            CompletableFuture<PresenceView> sub = c2.subscribe(list("alice"));
            FakeGateway.Conn conn = gw.conn();
            conn.welcome("app-1");
            conn.next("subscribe"); // not answered
            c2.close();
            ExecutionException ee = assertThrows(ExecutionException.class, () -> sub.get(10, TimeUnit.SECONDS));
            assertInstanceOf(PgwConnectionException.class, ee.getCause());
        }
    }

    @Test
    void aRefusedSubscribeBeforeOpenFailsWithTheProblem() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            gw.accept();
            PgwClient c = client(gw).build();
            CompletableFuture<PresenceView> sub = c.subscribeTenant();
            FakeGateway.Conn conn = gw.conn();
            conn.welcome("app-1");
            JsonObject f = conn.next("subscribe");
            JsonObject e = new JsonObject();
            e.addProperty("type", "error");
            e.add("id", f.get("id"));
            e.add("error", ClientBehaviourTest.problem("forbidden", 403, "Forbidden", "tenant: role user may not subscribe to the tenant"));
            conn.send(e);
            ExecutionException ee = assertThrows(ExecutionException.class, () -> sub.get(10, TimeUnit.SECONDS));
            assertInstanceOf(PgwException.class, ee.getCause());
            assertEquals("forbidden", ((PgwException) ee.getCause()).getCode());
            c.close();
        }
    }

    @Test
    void aSubscribeWhileReconnectingRidesOnTheResubscribe() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            gw.accept();
            ClientBehaviourTest.Recorder rec = new ClientBehaviourTest.Recorder();
            PgwClient c = client(gw).listener(rec).build();
            FakeGateway.Conn conn = gw.conn();
            conn.welcome("app-1");
            CompletableFuture<PresenceView> first = c.subscribe(list("alice"));
            conn.ok(conn.next("subscribe"), presenceReply("alice"));
            PresenceView a = await(first);

            conn.close(4500, "internal");
            waitFor("reconnecting", () -> c.getState() != ConnectionState.OPEN);
            CompletableFuture<PresenceView> later = c.subscribe(list("bob"));
            gw.accept();
            FakeGateway.Conn conn2 = gw.conn();
            conn2.welcome("app-1");
            JsonObject sub = conn2.next("subscribe");
            assertEquals(list("alice", "bob"), Vectors.strings(sub, "users"));
            assertNull(sub.get("tenant"));
            conn2.ok(sub, presenceReply("bob", "alice"));
            PresenceView b = await(later);
            assertEquals(2, b.get("bob").getVersion());
            assertFalse(b.has("alice"));
            waitFor("alice's new snapshot", () -> a.get("alice") != null && a.get("alice").getVersion() == 3);
            assertEquals(0, subscribes(framesUntilStatus(c, conn2)), "a second subscribe was sent");
            c.close();
        }
    }

    @Test
    void aSubscribeWhoseReplyWasLostIsAnsweredByTheResubscribe() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            gw.accept();
            PgwClient c = client(gw).build();
            FakeGateway.Conn conn = gw.conn();
            conn.welcome("app-1");
            CompletableFuture<PresenceView> sub = c.subscribe(list("alice"));
            conn.next("subscribe"); // not answered: the connection drops first
            gw.accept();
            conn.close(4500, "internal");
            FakeGateway.Conn conn2 = gw.conn();
            conn2.welcome("app-1");
            JsonObject again = conn2.next("subscribe");
            assertEquals(list("alice"), Vectors.strings(again, "users"));
            conn2.ok(again, presenceReply("alice"));
            assertEquals(2, await(sub).get("alice").getVersion());
            assertEquals(0, subscribes(framesUntilStatus(c, conn2)), "a second subscribe was sent");
            c.close();
        }
    }
}
