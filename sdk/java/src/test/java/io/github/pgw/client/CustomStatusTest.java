package io.github.pgw.client;

import static io.github.pgw.client.WebSocketConformanceTest.await;
import static io.github.pgw.client.WebSocketConformanceTest.client;
import static io.github.pgw.client.WebSocketConformanceTest.list;
import static io.github.pgw.client.WebSocketConformanceTest.waitFor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Custom statuses of the tenant (contract §9): the welcome's list, status(name), custom in PRESENCE, labels. */
class CustomStatusTest {
    static final String STATUSES = "[{\"name\":\"lunch\",\"base\":\"away\",\"label\":\"At lunch\"},"
            + "{\"name\":\"training\",\"base\":\"busy\",\"label\":\"In training\"}]";

    /** Reads the hello and answers a welcome that lists the tenant's custom statuses. */
    static void welcomeWithStatuses(FakeGateway.Conn conn) throws InterruptedException {
        JsonObject hello = conn.next("hello");
        JsonObject w = JsonParser.parseString("{\"type\":\"welcome\",\"conn\":\"c1\",\"session\":\"app-1\",\"user\":\"u1\",\"tenant\":\"acme\",\"node\":\"n1\","
                + "\"heartbeat\":25000,\"expires\":" + (System.currentTimeMillis() / 1000 + 3600) + ","
                + "\"presence\":{\"type\":\"presence\",\"tenant\":\"acme\",\"user\":\"u1\",\"status\":\"online\",\"manual\":false,\"sessions\":1,\"devices\":[\"desktop\"],\"version\":1},"
                + "\"statuses\":" + STATUSES + "}").getAsJsonObject();
        w.add("id", hello.get("id"));
        conn.send(w);
    }

    /** A client and its server-side connection, after a welcome that lists the statuses. */
    static final class Open {
        final PgwClient client;
        final FakeGateway.Conn conn;

        Open(PgwClient client, FakeGateway.Conn conn) {
            this.client = client;
            this.conn = conn;
        }
    }

    static Open open(FakeGateway gw) throws Exception {
        gw.accept();
        PgwClient c = client(gw).build();
        FakeGateway.Conn conn = gw.conn();
        welcomeWithStatuses(conn);
        await(c.ready());
        return new Open(c, conn);
    }

    static Presence presence(String json) {
        return Json.GSON.fromJson(json, Presence.class);
    }

    @Test
    void welcomeListsTheStatusesAndTheListCannotBeChanged() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            PgwClient c = open(gw).client;
            Welcome w = c.getWelcome();
            List<CustomStatus> s = w.getStatuses();
            assertEquals(2, s.size());
            assertEquals("lunch", s.get(0).getName());
            assertEquals("away", s.get(0).getBase());
            assertEquals("At lunch", s.get(0).getLabel());
            assertEquals("busy", s.get(1).getBase());
            assertThrows(UnsupportedOperationException.class, () -> s.remove(0));
            c.close();
        }
    }

    @Test
    void aWelcomeWithoutStatusesHasAnEmptyList() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            gw.accept();
            PgwClient c = client(gw).build();
            gw.conn().welcome("app-1");
            assertTrue(await(c.ready()).getStatuses().isEmpty());
            c.close();
        }
    }

    @Test
    void statusSendsACustomNameAndThePushCarriesIt() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            Open o = open(gw);
            PgwClient c = o.client;
            FakeGateway.Conn conn = o.conn;
            // Any name that follows the ids rule is sent, listed or not: the gateway decides (§9).
            java.util.concurrent.CompletableFuture<Void> set = c.status("lunch", "back at 1");
            JsonObject f = conn.next("status");
            assertEquals("lunch", f.get("status").getAsString());
            assertEquals("back at 1", f.get("note").getAsString());
            conn.ok(f, null);
            await(set);

            java.util.concurrent.CompletableFuture<PresenceView> sub = c.subscribe(list("u1"));
            JsonObject s = conn.next("subscribe");
            JsonObject reply = JsonParser.parseString("{\"presence\":[{\"type\":\"presence\",\"tenant\":\"acme\",\"user\":\"u1\",\"status\":\"away\",\"custom\":\"lunch\","
                    + "\"note\":\"back at 1\",\"manual\":true,\"sessions\":1,\"devices\":[\"desktop\"],\"version\":2}]}").getAsJsonObject();
            conn.ok(s, reply);
            PresenceView view = await(sub);
            Presence p = view.get("u1");
            assertEquals("away", p.getStatus());
            assertEquals("lunch", p.getCustom());
            assertEquals("At lunch", c.label(p));

            // Back to online: the push has no custom, the label is the built-in one.
            conn.send("{\"type\":\"presence\",\"tenant\":\"acme\",\"user\":\"u1\",\"status\":\"online\",\"manual\":false,\"sessions\":1,\"devices\":[\"desktop\"],\"version\":3}");
            waitFor("the online push", () -> view.get("u1").getVersion() == 3);
            assertNull(view.get("u1").getCustom());
            assertEquals("Online", c.label(view.get("u1")));
            c.close();
        }
    }

    @Test
    void anUnknownCustomStatusFailsWithTheGatewaysProblem() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            Open o = open(gw);
            PgwClient c = o.client;
            FakeGateway.Conn conn = o.conn;
            java.util.concurrent.CompletableFuture<Void> set = c.status("gym", null);
            JsonObject f = conn.next("status");
            JsonObject problem = ClientBehaviourTest.problem("invalid_argument", 400, "Invalid argument", "status: must be one of online, away, busy, dnd, lunch, training, got \"gym\"");
            JsonObject err = new JsonObject();
            err.addProperty("type", "error");
            err.add("id", f.get("id"));
            problem.add("errors", JsonParser.parseString("[{\"field\":\"status\",\"reason\":\"must be one of online, away, busy, dnd, lunch, training, got \\\"gym\\\"\"}]"));
            err.add("error", problem);
            conn.send(err);
            ExecutionException ee = assertThrows(ExecutionException.class, () -> set.get(10, TimeUnit.SECONDS));
            PgwException e = assertInstanceOf(PgwException.class, ee.getCause());
            assertEquals(400, e.getStatus());
            assertEquals("status", e.getErrors().get(0).getField());
            assertTrue(e.getErrors().get(0).getReason().contains("lunch"), e.getErrors().get(0).getReason());
            c.close();
        }
    }

    @Test
    void offlineAndMalformedNamesAreRefusedBeforeSending() throws Exception {
        try (FakeGateway gw = new FakeGateway()) {
            Open o = open(gw);
            PgwClient c = o.client;
            FakeGateway.Conn conn = o.conn;
            assertEquals("status", assertThrows(PgwArgumentException.class, () -> c.status("offline", null)).getArgument());
            assertEquals("status", assertThrows(PgwArgumentException.class, () -> c.status("on leave", null)).getArgument());
            assertEquals("status", assertThrows(PgwArgumentException.class, () -> c.status(null, null)).getArgument());
            // Nothing was sent for them: the next frame is the one after.
            c.idle(true);
            assertEquals("idle", conn.next().get("type").getAsString());
            c.close();
        }
    }

    @Test
    void labelIsTheListedLabelElseTheBuiltInOne() {
        List<CustomStatus> statuses = Json.GSON.fromJson(STATUSES, new com.google.gson.reflect.TypeToken<List<CustomStatus>>() {}.getType());
        assertEquals("At lunch", StatusLabels.label(presence("{\"status\":\"away\",\"custom\":\"lunch\"}"), statuses));
        assertEquals("In training", StatusLabels.label(presence("{\"status\":\"busy\",\"custom\":\"training\"}"), statuses));
        // Not listed (the policy changed after the welcome): the base's label, as the TypeScript SDK shows it.
        assertEquals("Away", StatusLabels.label(presence("{\"status\":\"away\",\"custom\":\"gym\"}"), statuses));
        assertEquals("Away", StatusLabels.label(presence("{\"status\":\"away\",\"custom\":\"lunch\"}"), null));
        assertEquals("Do not disturb", StatusLabels.label(presence("{\"status\":\"dnd\"}"), statuses));
        assertEquals("Offline", StatusLabels.label(presence("{\"status\":\"offline\"}"), statuses));
    }
}
