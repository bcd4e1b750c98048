package io.github.pgw.client.it;

import static io.github.pgw.client.it.Processes.waitFor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.pgw.client.ConnectionState;
import io.github.pgw.client.CustomStatus;
import io.github.pgw.client.IptEvent;
import io.github.pgw.client.PgwApi;
import io.github.pgw.client.PgwApiException;
import io.github.pgw.client.PgwArgumentException;
import io.github.pgw.client.PgwBridge;
import io.github.pgw.client.PgwClient;
import io.github.pgw.client.PgwException;
import io.github.pgw.client.PgwListener;
import io.github.pgw.client.Presence;
import io.github.pgw.client.PresenceView;
import io.github.pgw.client.StateChange;
import io.github.pgw.client.SyncDevice;
import io.github.pgw.client.TenantHistory;
import io.github.pgw.client.VersionedPolicy;
import io.github.pgw.client.Welcome;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Java SDK against the real gateway binary built from this repository: one node on the
 * embedded default (in-process store, embedded NATS) for most tests, two nodes sharing a private
 * redis-server and a private nats-server for presence across nodes.
 */
class GatewayIT {
    static Processes.Gateway gw;
    final List<AutoCloseable> open = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        gw = Processes.Gateway.start(UUID.randomUUID().toString(), Collections.<String, String>emptyMap());
    }

    @AfterAll
    static void stop() throws Exception {
        if (gw != null) gw.close();
    }

    @AfterEach
    void closeClients() throws Exception {
        for (AutoCloseable c : open) c.close();
        open.clear();
    }

    static String uid(String prefix) {
        return prefix + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
    }

    /** A listener that records states and byes. */
    static final class Rec implements PgwListener {
        final List<StateChange> states = new CopyOnWriteArrayList<>();
        final List<String> byes = new CopyOnWriteArrayList<>();

        @Override
        public void onState(StateChange c) { states.add(c); }

        @Override
        public void onBye(String reason) { byes.add(reason); }
    }

    PgwClient window(Processes.Gateway g, String token, String session, String window, PgwListener l) {
        PgwClient.Builder b = PgwClient.builder().url(g.wsUrl()).token(token).device("desktop").session(session).window(window).client("java-it/1");
        if (l != null) b.listener(l);
        PgwClient c = b.build();
        open.add(c);
        return c;
    }

    static String statusOf(PresenceView v, String user) {
        Presence p = v.get(user);
        return p == null ? "none" : p.getStatus();
    }

    @Test
    void mainAndChildWindowsOfOneSessionAreOnePresence() throws Exception {
        String tenant = uid("t");
        String alice = uid("alice");
        String session = PgwClient.Builder.newSessionId();
        PgwClient main = window(gw, gw.token(alice, tenant), session, "main", null);
        PgwClient child = window(gw, gw.token(alice, tenant), session, "child", null);
        main.ready().get(15, TimeUnit.SECONDS);
        child.ready().get(15, TimeUnit.SECONDS);
        assertEquals(session, main.getWelcome().getSession());
        assertEquals(session, child.getWelcome().getSession());

        PgwClient bob = window(gw, gw.token(uid("bob"), tenant), PgwClient.Builder.newSessionId(), "main", null);
        PresenceView view = bob.subscribe(Collections.singletonList(alice)).get(15, TimeUnit.SECONDS);
        assertEquals("online", statusOf(view, alice));
        assertEquals(1, view.get(alice).getSessions(), "two windows, one session");
        List<String> seen = new CopyOnWriteArrayList<>();
        view.addListener((user, p, prev) -> seen.add(p.getStatus()));

        // Closing the child never logs alice out: past three graces she is still online.
        child.close();
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
        while (System.nanoTime() < until) {
            assertFalse(seen.contains("offline"), "alice went offline after her child window closed");
            Thread.sleep(50);
        }
        // The main window still works: a status change reaches bob.
        main.status("busy", "child closed").get(15, TimeUnit.SECONDS);
        waitFor("bob to see alice busy", 15_000, () -> "busy".equals(statusOf(view, alice)));
        // Closing the last window: offline after the grace.
        main.close();
        waitFor("bob to see alice offline", 15_000, () -> "offline".equals(statusOf(view, alice)));
    }

    @Test
    void logoutEndsEveryWindowOfTheSession() throws Exception {
        String tenant = uid("t");
        String alice = uid("alice");
        String session = PgwClient.Builder.newSessionId();
        Rec childRec = new Rec();
        PgwClient main = window(gw, gw.token(alice, tenant), session, "main", null);
        PgwClient child = window(gw, gw.token(alice, tenant), session, "child", childRec);
        main.ready().get(15, TimeUnit.SECONDS);
        child.ready().get(15, TimeUnit.SECONDS);
        PgwClient bob = window(gw, gw.token(uid("bob"), tenant), PgwClient.Builder.newSessionId(), "main", null);
        PresenceView view = bob.subscribe(Collections.singletonList(alice)).get(15, TimeUnit.SECONDS);
        assertEquals("online", statusOf(view, alice));

        main.logout().get(15, TimeUnit.SECONDS);
        assertEquals(ConnectionState.CLOSED, main.getState());
        waitFor("the child window to be closed for good", 15_000, () -> child.getState() == ConnectionState.CLOSED);
        assertTrue(childRec.byes.contains("logged_out"), "child got bye logged_out: " + childRec.byes);
        StateChange last = childRec.states.get(childRec.states.size() - 1);
        assertEquals(1000, last.getCode());
        waitFor("bob to see alice offline", 15_000, () -> "offline".equals(statusOf(view, alice)));
    }

    @Test
    void a4401IsRecoveredWithANewTokenAndExpiringRefreshes() throws Exception {
        String tenant = uid("t");
        String alice = uid("alice");
        AtomicInteger calls = new AtomicInteger();
        Rec rec = new Rec();
        // First a token of another secret (refused: token_signature, 4401), then good ones,
        // each living 63 s, so the gateway sends expiring about 3 s after the connect.
        PgwClient c = PgwClient.builder().url(gw.wsUrl()).device("desktop").session(PgwClient.Builder.newSessionId())
                .tokenSupplier(() -> calls.incrementAndGet() == 1
                        ? Processes.token("not-the-secret", alice, tenant, 3600)
                        : Processes.token(gw.secret, alice, tenant, 63))
                .backoff(50, 500).listener(rec).build();
        open.add(c);
        c.ready().get(20, TimeUnit.SECONDS);
        boolean saw4401 = false;
        for (StateChange s : rec.states) saw4401 |= s.getState() == ConnectionState.RECONNECTING && s.getCode() == 4401 && s.getReason().equals("token_signature");
        assertTrue(saw4401, "reconnected after 4401 token_signature: " + rec.states);
        long first = c.getExpires();
        waitFor("a refresh after expiring", 30_000, () -> c.getExpires() > first);
        assertTrue(calls.get() >= 3, "the supplier gave the refresh token");
        assertEquals(ConnectionState.OPEN, c.getState());
    }

    @Test
    void httpApiAgainstTheGateway() throws Exception {
        String tenant = uid("t");
        String alice = uid("alice");
        PgwApi api = PgwApi.builder().baseUrl(gw.httpUrl()).token(gw.token(alice, tenant)).build();
        Presence never = api.getPresence(uid("ghost"));
        assertEquals("offline", never.getStatus());
        assertEquals(0, never.getVersion());
        PgwApiException off = assertThrows(PgwApiException.class, () -> api.setStatus(alice, "busy", null));
        assertEquals(409, off.getStatus());
        assertEquals("user_offline", off.getCode());

        PgwClient ws = window(gw, gw.token(alice, tenant), PgwClient.Builder.newSessionId(), "main", null);
        ws.ready().get(15, TimeUnit.SECONDS);
        Presence p = api.setStatusAsync(alice, "dnd", "focus").get(15, TimeUnit.SECONDS);
        assertEquals("dnd", p.getStatus());
        assertEquals("focus", p.getNote());
        List<Presence> two = api.queryPresence(Arrays.asList(alice, "bob"));
        assertEquals("dnd", two.get(0).getStatus());
        assertEquals("offline", two.get(1).getStatus());
        PgwApiException bad = assertThrows(PgwApiException.class, () -> api.setStatus(alice, "sleepy", null));
        assertEquals(400, bad.getStatus());
        assertEquals("invalid_argument", bad.getCode());
        assertEquals("status", bad.getErrors().get(0).getField());
        assertThrows(PgwArgumentException.class, () -> api.getPresence("a.b"));

        api.deleteSession(ws.getSession());
        waitFor("the WebSocket client to close after DELETE /v1/sessions", 15_000, () -> ws.getState() == ConnectionState.CLOSED);
        waitFor("alice offline", 15_000, () -> "offline".equals(api.getPresence(alice).getStatus()));

        PgwApi wrong = PgwApi.builder().baseUrl(gw.httpUrl()).token(Processes.token("not-the-secret", alice, tenant, 60)).build();
        PgwApiException e = assertThrows(PgwApiException.class, () -> wrong.getPresence(alice));
        assertEquals(401, e.getStatus());
        assertEquals("token_signature", e.getCode());
    }

    @Test
    void tenantPolicyWithEtagsAndHistory() throws Exception {
        String tenant = uid("t");
        PgwApi ops = PgwApi.builder().baseUrl(gw.httpUrl()).token(gw.token("ops1", "ops", "operator")).build();
        VersionedPolicy first = ops.getTenant(tenant);
        assertEquals(0, first.getPolicy().size(), "no policy stored: {}");
        assertTrue(first.getEtag().matches("^\"\\d+\"$"), first.getEtag());
        JsonObject policy = JsonParser.parseString("{\"statuses\":[{\"name\":\"lunch\",\"base\":\"away\",\"label\":\"At lunch\"}]}").getAsJsonObject();
        VersionedPolicy next = ops.putTenant(tenant, policy, first.getEtag());
        assertEquals(policy, next.getPolicy());
        assertFalse(next.getEtag().equals(first.getEtag()));
        PgwApiException stale = assertThrows(PgwApiException.class, () -> ops.putTenant(tenant, new JsonObject(), first.getEtag()));
        assertEquals(412, stale.getStatus());
        assertEquals("precondition_failed", stale.getCode());
        PgwApiException bad = assertThrows(PgwApiException.class,
                () -> ops.putTenant(tenant, JsonParser.parseString("{\"grace\":\"soon\"}").getAsJsonObject(), next.getEtag()));
        assertEquals(400, bad.getStatus());
        assertEquals("grace", bad.getErrors().get(0).getField());
        TenantHistory h = ops.getTenantHistoryAsync(tenant).get(15, TimeUnit.SECONDS);
        assertEquals(tenant, h.getTenant());
        assertEquals("ops1", h.getChanges().get(0).getWho());
        assertEquals("statuses", h.getChanges().get(0).getFields().get(0).getField());
        // A user of the tenant (no admin role) may not read its policy.
        PgwApi user = PgwApi.builder().baseUrl(gw.httpUrl()).token(gw.token(uid("u"), tenant)).build();
        assertEquals(403, assertThrows(PgwApiException.class, () -> user.getTenant(tenant)).getStatus());
    }

    @Test
    void customStatusOfTheTenantPolicy() throws Exception {
        String tenant = uid("t");
        String alice = uid("alice");
        PgwApi ops = PgwApi.builder().baseUrl(gw.httpUrl()).token(gw.token("ops1", "ops", "operator")).build();
        JsonObject policy = JsonParser.parseString("{\"statuses\":[{\"name\":\"lunch\",\"base\":\"away\",\"label\":\"At lunch\"}]}").getAsJsonObject();
        ops.putTenant(tenant, policy, ops.getTenant(tenant).getEtag());
        // The change applies within 1 s (§9): wait until the node takes the name, for another user
        // (online: a manual status needs a live session, 409 user_offline otherwise).
        String probe = uid("probe");
        window(gw, gw.token(probe, tenant), PgwClient.Builder.newSessionId(), "main", null).ready().get(15, TimeUnit.SECONDS);
        PgwApi probeApi = PgwApi.builder().baseUrl(gw.httpUrl()).token(gw.token(probe, tenant)).build();
        waitFor("the policy to apply", 15_000, () -> {
            try {
                return "lunch".equals(probeApi.setStatus(probe, "lunch", null).getCustom());
            } catch (PgwApiException e) {
                return false;
            }
        });

        PgwClient a = window(gw, gw.token(alice, tenant), PgwClient.Builder.newSessionId(), "main", null);
        Welcome w = a.ready().get(15, TimeUnit.SECONDS);
        assertEquals(1, w.getStatuses().size(), "the welcome lists the tenant's custom statuses");
        CustomStatus lunch = w.getStatuses().get(0);
        assertEquals("lunch", lunch.getName());
        assertEquals("away", lunch.getBase());
        assertEquals("At lunch", lunch.getLabel());

        PresenceView view = a.subscribe(Collections.singletonList(alice)).get(15, TimeUnit.SECONDS);
        a.status("lunch", "back at 1").get(15, TimeUnit.SECONDS);
        waitFor("alice's own view to show lunch", 15_000, () -> view.get(alice) != null && "lunch".equals(view.get(alice).getCustom()));
        Presence p = view.get(alice);
        assertEquals("away", p.getStatus(), "status is the custom status's base");
        assertEquals("At lunch", a.label(p));
        // The user themself over HTTP (the route takes the user or an admin).
        PgwApi api = PgwApi.builder().baseUrl(gw.httpUrl()).token(gw.token(alice, tenant)).build();
        assertEquals("lunch", api.getPresence(alice).getCustom());

        // An unknown name: the gateway's 400 naming status and the tenant's choices.
        java.util.concurrent.ExecutionException ee = assertThrows(java.util.concurrent.ExecutionException.class,
                () -> a.status("gym", null).get(15, TimeUnit.SECONDS));
        PgwException e = assertInstanceOf(PgwException.class, ee.getCause());
        assertEquals(400, e.getStatus());
        assertEquals("status", e.getErrors().get(0).getField());
        assertTrue(e.getErrors().get(0).getReason().contains("lunch"), e.getErrors().get(0).getReason());

        // The HTTP status route takes the custom name too, and back to online clears it.
        Presence viaHttp = api.setStatus(alice, "lunch", null);
        assertEquals("lunch", viaHttp.getCustom());
        assertEquals("away", viaHttp.getStatus());
        PgwApiException bad = assertThrows(PgwApiException.class, () -> api.setStatus(alice, "gym", null));
        assertEquals(400, bad.getStatus());
        assertEquals("status", bad.getErrors().get(0).getField());
        assertNull(api.setStatus(alice, "online", null).getCustom());
        waitFor("alice's view back online", 15_000, () -> view.get(alice).getCustom() == null && "online".equals(view.get(alice).getStatus()));
        assertEquals("Online", a.label(view.get(alice)));
    }

    @Test
    void bridgeSyncsAndReportsCalls() throws Exception {
        String tenant = uid("t");
        String alice = uid("alice");
        String bridgeId = uid("pbx");
        PgwBridge bridge = PgwBridge.start(
                PgwClient.builder().url(gw.wsUrl()).token(gw.token(bridgeId, tenant, "bridge")).session(uid("bs")),
                bridgeId, () -> Collections.singletonList(SyncDevice.of("1001", alice, "registered")));
        open.add(bridge);
        bridge.client().ready().get(15, TimeUnit.SECONDS);
        waitFor("the first sync's reply", 15_000, () -> bridge.synced().isDone());
        assertEquals(1, bridge.synced().get().get("devices").getAsInt());
        PgwApi api = PgwApi.builder().baseUrl(gw.httpUrl()).token(gw.token(uid("reader"), tenant)).build();
        assertEquals("idle", api.getPresence(alice).getPhone().getState());
        bridge.event(IptEvent.of("1001", "ringing").call("c1").direction("inbound").peer("+4930123")).get(15, TimeUnit.SECONDS);
        waitFor("alice's phone ringing", 15_000, () -> "ringing".equals(api.getPresence(alice).getPhone().getState()));

        // The HTTP route of an HTTP-only bridge, same tenant.
        PgwApi http = PgwApi.builder().baseUrl(gw.httpUrl()).token(gw.token(bridgeId + "h", tenant, "bridge")).build();
        assertEquals(1, http.postIptSync(bridgeId + "h", Collections.singletonList(SyncDevice.of("2002", alice + "b", "registered"))).getDevices());
        assertEquals(1, http.postIptEvents(bridgeId + "h", Collections.singletonList(IptEvent.of("2002", "unregistered").seq(1))).getAccepted());
        PgwApiException unknown = assertThrows(PgwApiException.class,
                () -> http.postIptEvents(bridgeId + "h", Collections.singletonList(IptEvent.of("9999", "registered").seq(2))));
        assertEquals("unknown_extension", unknown.getCode());
    }

    @Test
    void presenceAcrossTwoNodesSharingRedisAndNats() throws Exception {
        String secret = UUID.randomUUID().toString();
        try (Processes.Redis redis = Processes.Redis.start(); Processes.Nats nats = Processes.Nats.start()) {
            // Two nodes that share nothing but a private Redis and a private NATS (contract: nodes share
            // only Redis and NATS). The embedded NATS of a node is in-process only, so it cannot serve two.
            java.util.Map<String, String> env = new java.util.HashMap<>();
            env.put("PGW_REDIS_URL", redis.url());
            env.put("PGW_NATS_URL", nats.url());
            try (Processes.Gateway n1 = Processes.Gateway.start(secret, env)) {
                try (Processes.Gateway n2 = Processes.Gateway.start(secret, env)) {
                    String tenant = uid("t");
                    String alice = uid("alice");
                    PgwClient bob = window(n2, n2.token(uid("bob"), tenant), PgwClient.Builder.newSessionId(), "main", null);
                    PresenceView view = bob.subscribe(Collections.singletonList(alice)).get(15, TimeUnit.SECONDS);
                    assertEquals("offline", statusOf(view, alice));
                    PgwClient a = window(n1, n1.token(alice, tenant), PgwClient.Builder.newSessionId(), "main", null);
                    a.ready().get(15, TimeUnit.SECONDS);
                    assertNotNull(a.getWelcome().getNode());
                    assertFalse(a.getWelcome().getNode().equals(bob.getWelcome().getNode()), "the two clients are on two nodes");
                    waitFor("bob on node 2 to see alice on node 1 online", 15_000, () -> "online".equals(statusOf(view, alice)));
                    a.status("away", "lunch").get(15, TimeUnit.SECONDS);
                    waitFor("bob to see alice away", 15_000, () -> "away".equals(statusOf(view, alice)));
                    a.logout().get(15, TimeUnit.SECONDS);
                    waitFor("bob to see alice offline", 15_000, () -> "offline".equals(statusOf(view, alice)));
                    bob.close();
                }
            }
        }
    }
}
