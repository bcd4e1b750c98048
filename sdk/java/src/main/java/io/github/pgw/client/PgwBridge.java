package io.github.pgw.client;

import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * A PBX bridge over the WebSocket: {@code ipt.sync} with the full device truth after every
 * (re)connect, then {@code ipt.event}s numbered 1, 2, 3... of that sync's sequence (contract §3.1).
 *
 * <pre>{@code
 * PgwBridge bridge = PgwBridge.start(
 *     PgwClient.builder().url("wss://pgw.example.com/v1/ws").tokenSupplier(bridgeTokens),
 *     "pbx1",
 *     pbx::currentDevices);              // asked after every (re)connect
 * bridge.event(IptEvent.of("1001", "ringing").call("c-17").direction("inbound").peer("+4930123"));
 * }</pre>
 *
 * <p>An event made while the connection is down fails at once with
 * {@link PgwConnectionException.Kind#LOST} rather than waiting: the sync sent after the reconnect
 * carries the truth, so a late event would only be stale. A sequence number is given to an event when
 * it is sent, so numbers never repeat within one sync's sequence.
 */
public final class PgwBridge implements AutoCloseable {
    private final PgwClient client;
    private final String bridge;
    private final Supplier<List<SyncDevice>> truth;
    private long seq; // event thread only
    private volatile CompletableFuture<JsonObject> lastSync = new CompletableFuture<>();

    private PgwBridge(PgwClient.Builder builder, String bridge, Supplier<List<SyncDevice>> truth) {
        this.bridge = bridge;
        this.truth = truth;
        this.client = builder.device("bridge").listener(new PgwListener() {
            @Override
            public void onWelcome(Welcome welcome) {
                syncNow();
            }
        }).build();
    }

    /**
     * Starts a bridge: sets the builder's device to {@code bridge}, connects, and sends
     * {@code ipt.sync} with {@code truth.get()} after every welcome. The token needs role bridge.
     */
    public static PgwBridge start(PgwClient.Builder builder, String bridge, Supplier<List<SyncDevice>> truth) {
        Validate.id("PgwBridge", "bridge", bridge);
        if (builder == null) throw Validate.fail("PgwBridge", "builder", "is required (got null)");
        if (truth == null) throw Validate.fail("PgwBridge", "truth", "is required: a supplier of the devices behind the bridge (got null)");
        return new PgwBridge(builder, bridge, truth);
    }

    /** The underlying client (state, listeners, close). */
    public PgwClient client() { return client; }

    /** The bridge id. */
    public String getBridge() { return bridge; }

    /**
     * The reply to the latest {@code ipt.sync} (its {@code devices} count); a new future after each
     * reconnect.
     */
    public CompletableFuture<JsonObject> synced() { return lastSync; }

    /** Sends {@code ipt.sync} now with {@code truth.get()} and starts a new sequence. */
    public CompletableFuture<JsonObject> resync() {
        CompletableFuture<JsonObject> out = new CompletableFuture<>();
        client.runOnLoop(out, () -> syncNow().whenComplete((r, e) -> {
            if (e != null) out.completeExceptionally(e);
            else out.complete(r);
        }));
        return out;
    }

    /**
     * Sends one event with the next sequence number (set by the bridge: leave {@code seq} unset);
     * completes with the {@code ok} reply, or fails with {@link PgwException} (e.g. 404
     * {@code unknown_extension}) or {@link PgwConnectionException}.
     */
    public CompletableFuture<JsonObject> event(IptEvent event) {
        if (event == null) throw Validate.fail("event", "event", "is required (got null)");
        IptEvent e = event.copy().bridge(bridge);
        if (e.getSeq() != null) throw Validate.fail("event", "seq", "is set by the bridge: leave it unset (got number " + e.getSeq() + ")");
        Validate.event("event", "event", e, false);
        CompletableFuture<JsonObject> out = new CompletableFuture<>();
        client.runOnLoop(out, () -> {
            if (client.getState() != ConnectionState.OPEN) {
                out.completeExceptionally(new PgwConnectionException(PgwConnectionException.Kind.LOST,
                        "not connected: the sync after the reconnect carries the truth", 0, ""));
                return;
            }
            e.seq(++seq);
            JsonObject frame = Json.GSON.toJsonTree(e).getAsJsonObject();
            frame.addProperty("type", "ipt.event");
            client.transmitNow(frame).whenComplete((r, err) -> {
                if (err != null) out.completeExceptionally(err);
                else out.complete(r);
            });
        });
        return out;
    }

    /** On the event thread: sends the sync ahead of anything queued and resets the sequence. */
    private CompletableFuture<JsonObject> syncNow() {
        List<SyncDevice> devices;
        try {
            List<SyncDevice> got = truth.get();
            devices = got == null ? new ArrayList<SyncDevice>() : new ArrayList<>(got);
            Validate.devices("ipt.sync", devices);
        } catch (RuntimeException e) {
            client.listenerFailed(e);
            CompletableFuture<JsonObject> f = new CompletableFuture<>();
            f.completeExceptionally(e);
            lastSync = f;
            return f;
        }
        JsonObject frame = new JsonObject();
        frame.addProperty("type", "ipt.sync");
        frame.addProperty("bridge", bridge);
        frame.add("devices", Json.GSON.toJsonTree(devices));
        seq = 0;
        // Published before the frame goes out, so synced() never returns the previous sync's future
        // once the gateway can have seen this one.
        CompletableFuture<JsonObject> f = new CompletableFuture<>();
        lastSync = f;
        client.transmitNow(frame).whenComplete((r, e) -> {
            if (e != null) f.completeExceptionally(e);
            else f.complete(r);
        });
        return f;
    }

    /** Closes the client (the bridge's devices turn unknown after the gateway's grace). */
    @Override
    public void close() { client.close(); }
}
