package io.github.pgw.client;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;

/**
 * One WebSocket connection of one window (or bridge) to the gateway, kept alive across drops by the
 * close-code table of the contract (§6): it re-sends hello with the same session, re-subscribes,
 * takes each new subscribe reply as the starting point and ignores stale presence versions.
 *
 * <pre>{@code
 * PgwClient client = PgwClient.builder()
 *     .url("wss://pgw.example.com/v1/ws")
 *     .tokenSupplier(() -> tokens.fetch())   // called before every (re)connect and on expiring
 *     .session(sessionId).window("main").device("desktop")
 *     .listener(myListener)
 *     .build();                              // starts connecting
 * client.ready().get(10, SECONDS);
 * PresenceView team = client.subscribe(Arrays.asList("alice", "bob")).get();
 * }</pre>
 *
 * <p><b>Threads.</b> Each client has one event thread ({@code pgw-client-N}, a daemon). Every
 * listener callback, every {@link PresenceView} change and the completion of every future of this
 * client happen on it, one at a time, in order. The public methods are safe to call from any thread.
 * Do not block the event thread (see {@link PgwListener}).
 *
 * <p>Requests made while connecting or reconnecting wait and are sent after the next welcome.
 * Requests whose reply was lost in a drop are sent again after the reconnect ({@code status},
 * {@code idle}, {@code subscribe}, {@code unsubscribe}); {@code refresh}, {@code logout} and
 * {@link #request} frames fail with {@link PgwConnectionException.Kind#LOST}. A subscribe waiting
 * for the welcome is answered by the welcome's one re-subscribe of all that is still wanted.
 */
public final class PgwClient implements AutoCloseable {
    private static final AtomicInteger THREADS = new AtomicInteger();
    private static final int MAX_USERS_PER_FRAME = 1000;

    // ---- configuration (immutable) --------------------------------------------------------------
    private final String url;
    private final Supplier<String> tokenSupplier;
    private final String window;
    private final String device;
    private final String clientName;
    private final OkHttpClient http;
    private final boolean ownsHttp;
    private final long initialDelayMs;
    private final long maxDelayMs;
    private final long goingAwayJitterMs;
    private final int maxAuthRetries;
    private final long requestTimeoutMs;
    private final Random random;
    private final ScheduledExecutorService loop;
    private final ExecutorService tokenPool;
    private final List<PgwListener> listeners = new CopyOnWriteArrayList<>();

    // ---- state: touched only on the event thread ------------------------------------------------
    private volatile ConnectionState state = ConnectionState.CONNECTING;
    private volatile String sessionId;
    private volatile Welcome lastWelcome;
    private volatile long expiresAt;
    private String token;
    private WebSocket ws;
    private int generation;
    private int attempt;
    private int authFailures;
    private long helloId = -1;
    private PgwException helloError;
    private volatile Throwable closeError;
    private long nextId = 1;
    private ScheduledFuture<?> reconnectTimer;
    private ScheduledFuture<?> refreshTimer;
    private ScheduledFuture<?> helloTimer;
    private boolean refreshing;
    private Pending loggingOut;
    private Boolean lastIdle;
    private final Deque<Pending> queue = new ArrayDeque<>();
    private final Map<Long, Pending> inflight = new LinkedHashMap<>();
    private final List<CompletableFuture<Welcome>> readyWaiters = new ArrayList<>();
    /** Highest version per user on the current connection; cleared on every welcome (§3.2 v1.1). */
    private final Map<String, Long> versions = new HashMap<>();
    private final Map<String, Presence> known = new java.util.concurrent.ConcurrentHashMap<>();
    private final Map<String, Integer> subs = new LinkedHashMap<>();
    private int tenantSubs;
    private final Set<PresenceView> views = new LinkedHashSet<>();

    /** A request waiting for its reply. */
    private static final class Pending {
        final JsonObject frame;
        final CompletableFuture<JsonObject> future = new CompletableFuture<>();
        final boolean retry;
        /**
         * A subscribe of users and tenant already counted in {@link #subs} and {@link #tenantSubs}:
         * while it waits in the queue, the re-subscribe of the next welcome asks for all it asks for,
         * and answers it instead.
         */
        final boolean covered;
        long id = -1;
        ScheduledFuture<?> timer;

        Pending(JsonObject frame, boolean retry, boolean covered) {
            this.frame = frame;
            this.retry = retry;
            this.covered = covered;
        }
    }

    private PgwClient(Builder b) {
        this.url = b.url;
        this.token = b.token;
        this.tokenSupplier = b.tokenSupplier;
        this.sessionId = b.session;
        this.window = b.window;
        this.device = b.device;
        this.clientName = b.client;
        this.ownsHttp = b.http == null;
        this.http = b.http != null ? b.http : new OkHttpClient();
        this.initialDelayMs = b.initialDelayMs;
        this.maxDelayMs = b.maxDelayMs;
        this.goingAwayJitterMs = b.goingAwayJitterMs;
        this.maxAuthRetries = b.maxAuthRetries;
        this.requestTimeoutMs = b.requestTimeoutMs;
        this.random = b.random != null ? b.random : new Random();
        this.listeners.addAll(b.listeners);
        String name = "pgw-client-" + THREADS.incrementAndGet();
        ScheduledThreadPoolExecutor ex = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
        ex.setRemoveOnCancelPolicy(true);
        // After close, timers still pending (a token fetch's timeout) must not keep the thread.
        ex.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        this.loop = ex;
        this.tokenPool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, name + "-token");
            t.setDaemon(true);
            return t;
        });
        loop.execute(this::openSocket);
    }

    /** A builder; {@link Builder#build()} starts connecting. */
    public static Builder builder() {
        return new Builder();
    }

    // ---- public API -----------------------------------------------------------------------------

    /** Adds a listener (callbacks run on the event thread). */
    public PgwClient addListener(PgwListener l) {
        listeners.add(l);
        return this;
    }

    /** Removes a listener. */
    public void removeListener(PgwListener l) { listeners.remove(l); }

    /** The connection state. */
    public ConnectionState getState() { return state; }

    /** The session id: the one given, or the server's once welcomed. */
    public String getSession() { return sessionId; }

    /** The last welcome, or null before the first. */
    public Welcome getWelcome() { return lastWelcome; }

    /** The token's {@code exp} (Unix seconds), 0 before the first welcome. */
    public long getExpires() { return expiresAt; }

    /** The newest presence the client holds for {@code user}, or null. */
    public Presence presence(String user) { return known.get(user); }

    /**
     * Completes with the welcome once open (at once when it is); fails when the client closes for good
     * first, with the server's {@link PgwException} when the hello was refused.
     */
    public CompletableFuture<Welcome> ready() {
        CompletableFuture<Welcome> f = new CompletableFuture<>();
        onLoop(f, () -> {
            if (state == ConnectionState.OPEN && lastWelcome != null) f.complete(lastWelcome);
            else if (state == ConnectionState.CLOSED) f.completeExceptionally(terminalError());
            else readyWaiters.add(f);
        });
        return f;
    }

    /**
     * Sets the user's manual status across all the user's sessions: online (clears it), away, busy,
     * dnd, or a custom status of the tenant (contract §9, listed in {@link Welcome#getStatuses()});
     * {@code note} (at most 140 characters) may be null. Any name that follows the ids rule is sent
     * (only {@code offline} and malformed names are refused here, with {@link PgwArgumentException});
     * a name the tenant does not define fails with the gateway's 400 {@link PgwException} naming
     * {@code status} and the tenant's choices.
     */
    public CompletableFuture<Void> status(String status, String note) {
        Validate.statusName("status", status);
        Validate.note("status", note);
        JsonObject f = frame("status");
        f.addProperty("status", status);
        if (note != null) f.addProperty("note", note);
        return send(f, true).thenApply(r -> null);
    }

    /**
     * The text to show for a presence: its custom status's label when the last welcome listed it,
     * else the English label of its built-in status ({@link StatusLabels#label}).
     */
    public String label(Presence p) {
        Welcome w = lastWelcome;
        return StatusLabels.label(p, w == null ? null : w.getStatuses());
    }

    /** Sets this session's idle flag (the app's own idle detection); re-asserted after reconnects. */
    public CompletableFuture<Void> idle(boolean idle) {
        JsonObject f = frame("idle");
        f.addProperty("idle", idle);
        CompletableFuture<Void> out = new CompletableFuture<>();
        onLoop(out, () -> {
            lastIdle = idle;
            forward(enqueueNew(f, true), out, r -> null);
        });
        return out;
    }

    /**
     * Subscribes to users (more than 1000 are split over several frames) and completes, once the
     * snapshot is in, with a live view.
     */
    public CompletableFuture<PresenceView> subscribe(List<String> users) {
        checkUsers("subscribe", users);
        return subscribe(new ArrayList<>(new LinkedHashSet<>(users)), false);
    }

    /** Subscribes to every user of the tenant (role admin, or as the tenant allows). */
    public CompletableFuture<PresenceView> subscribeTenant() {
        return subscribe(Collections.<String>emptyList(), true);
    }

    private CompletableFuture<PresenceView> subscribe(List<String> users, boolean tenant) {
        CompletableFuture<PresenceView> out = new CompletableFuture<>();
        onLoop(out, () -> {
            if (state == ConnectionState.CLOSED) {
                out.completeExceptionally(terminalError());
                return;
            }
            PresenceView view = new PresenceView(this, users, tenant);
            views.add(view);
            for (String u : users) subs.merge(u, 1, Integer::sum);
            if (tenant) tenantSubs++;
            sendSubscribe(users, tenant).whenComplete((list, err) -> {
                // Runs on the event thread: replies complete there.
                if (err != null) {
                    releaseViewNow(view);
                    out.completeExceptionally(unwrap(err));
                    return;
                }
                applySnapshot(list, tenant);
                for (String u : users) {
                    Presence p = known.get(u);
                    if (p != null) view.put(p);
                }
                if (tenant) for (Presence p : list) view.put(known.getOrDefault(p.getUser(), p));
                out.complete(view);
            });
        });
        return out;
    }

    /** Unsubscribes from users, whichever views asked for them (those views stop holding them). */
    public CompletableFuture<Void> unsubscribe(List<String> users) {
        checkUsers("unsubscribe", users);
        List<String> list = new ArrayList<>(new LinkedHashSet<>(users));
        CompletableFuture<Void> out = new CompletableFuture<>();
        onLoop(out, () -> {
            for (String u : list) subs.remove(u);
            for (PresenceView v : views) v.drop(list);
            forward(sendUnsubscribe(list, false), out, r -> null);
        });
        return out;
    }

    /** Stops following the whole tenant (every view keeps only the users it named). */
    public CompletableFuture<Void> unsubscribeTenant() {
        CompletableFuture<Void> out = new CompletableFuture<>();
        onLoop(out, () -> {
            tenantSubs = 0;
            for (PresenceView v : views) v.dropTenant();
            forward(sendUnsubscribe(Collections.<String>emptyList(), true), out, r -> null);
        });
        return out;
    }

    /**
     * Ends this session on every window and node now (no grace). Completes when the server confirmed
     * or closed with 1000 {@code logged_out}; the client is then closed for good.
     */
    public CompletableFuture<Void> logout() {
        CompletableFuture<Void> out = new CompletableFuture<>();
        onLoop(out, () -> {
            if (state == ConnectionState.CLOSED) {
                out.completeExceptionally(terminalError());
                return;
            }
            Pending p = new Pending(frame("logout"), false, false);
            loggingOut = p;
            enqueue(p);
            p.future.whenComplete((r, err) -> {
                if (err != null) out.completeExceptionally(unwrap(err));
                else {
                    if (state != ConnectionState.CLOSED) closeNow();
                    out.complete(null);
                }
            });
        });
        return out;
    }

    /**
     * Replaces the connection's token (same user and tenant) and completes with the new
     * {@code expires} (Unix seconds).
     */
    public CompletableFuture<Long> refresh(String newToken) {
        if (newToken == null || newToken.isEmpty()) {
            throw Validate.fail("refresh", "token", "must be a non-empty string (got " + Validate.describe(newToken) + ")");
        }
        JsonObject f = frame("refresh");
        f.addProperty("token", newToken);
        CompletableFuture<Long> out = new CompletableFuture<>();
        onLoop(out, () -> forward(enqueueNew(f, false), out, reply -> {
            token = newToken;
            JsonElement e = reply.get("expires");
            if (e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()) {
                expiresAt = e.getAsLong();
                scheduleRefresh();
            }
            return expiresAt;
        }));
        return out;
    }

    /**
     * Sends any frame of the contract (e.g. {@code ipt.event}) and completes with the {@code ok}
     * reply's fields, or fails with {@link PgwException}. Waits for the connection to be open.
     */
    public CompletableFuture<JsonObject> request(JsonObject frame) {
        if (frame == null || PgwException.stringOf(frame, "type").isEmpty()) {
            throw Validate.fail("request", "frame.type", "is required: a frame type of the contract");
        }
        if ("hello".equals(PgwException.stringOf(frame, "type"))) {
            throw Validate.fail("request", "frame.type", "must not be hello: the client sends hello itself");
        }
        return send(frame.deepCopy(), false);
    }

    /**
     * Closes the connection for good (1000) without logging out: the session ends after the server's
     * grace unless another window keeps it. Pending requests fail with
     * {@link PgwConnectionException.Kind#CLOSED}.
     */
    @Override
    public void close() {
        try {
            loop.execute(this::closeNow);
        } catch (java.util.concurrent.RejectedExecutionException alreadyClosed) {
            // The event thread is gone: the client was closed before.
        }
    }

    // ---- package-private: views and the bridge --------------------------------------------------

    CompletableFuture<Void> releaseView(PresenceView view) {
        CompletableFuture<Void> out = new CompletableFuture<>();
        onLoop(out, () -> forward(releaseViewNow(view), out, r -> null));
        return out;
    }

    void listenerFailed(RuntimeException e) {
        for (PgwListener l : listeners) {
            try {
                l.onError(e);
            } catch (RuntimeException ignored) {
                // A listener that fails in onError is not called again for it.
            }
        }
    }

    /** Runs r on the event thread; fails f when the client is closed for good. */
    <T> void runOnLoop(CompletableFuture<T> f, Runnable r) {
        onLoop(f, r);
    }

    /** Runs r on the event thread unless the client is closed (OkHttp's threads call this). */
    private void post(Runnable r) {
        try {
            loop.execute(r);
        } catch (java.util.concurrent.RejectedExecutionException closed) {
            // Closed for good: late socket events have nothing to change.
        }
    }

    /** On the event thread: sends frame now, ahead of any queued request, when open; else fails. */
    CompletableFuture<JsonObject> transmitNow(JsonObject frame) {
        Pending p = new Pending(frame, false, false);
        if (state != ConnectionState.OPEN || ws == null) {
            p.future.completeExceptionally(new PgwConnectionException(PgwConnectionException.Kind.LOST, "not connected", 0, ""));
        } else {
            transmit(p);
        }
        return p.future;
    }

    // ---- requests -------------------------------------------------------------------------------

    private static JsonObject frame(String type) {
        JsonObject f = new JsonObject();
        f.addProperty("type", type);
        return f;
    }

    private static void checkUsers(String method, List<String> users) {
        if (users == null) throw Validate.fail(method, "users", "must be an array of user ids (got null)");
        if (users.isEmpty()) throw Validate.fail(method, "users", "must name at least one user (got an empty array)");
        for (int i = 0; i < users.size(); i++) Validate.id(method, "users[" + i + "]", users.get(i));
    }

    private <T> void onLoop(CompletableFuture<T> f, Runnable r) {
        try {
            loop.execute(() -> {
                try {
                    r.run();
                } catch (RuntimeException e) {
                    f.completeExceptionally(e);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException closed) {
            f.completeExceptionally(terminalError());
        }
    }

    private static <A, B> void forward(CompletableFuture<A> from, CompletableFuture<B> to, java.util.function.Function<A, B> map) {
        from.whenComplete((v, err) -> {
            if (err != null) to.completeExceptionally(unwrap(err));
            else {
                try {
                    to.complete(map.apply(v));
                } catch (RuntimeException e) {
                    to.completeExceptionally(e);
                }
            }
        });
    }

    private static Throwable unwrap(Throwable t) {
        return t instanceof java.util.concurrent.CompletionException && t.getCause() != null ? t.getCause() : t;
    }

    private CompletableFuture<JsonObject> send(JsonObject frame, boolean retry) {
        CompletableFuture<JsonObject> out = new CompletableFuture<>();
        onLoop(out, () -> forward(enqueueNew(frame, retry), out, r -> r));
        return out;
    }

    /** On the event thread. */
    private CompletableFuture<JsonObject> enqueueNew(JsonObject frame, boolean retry) {
        return enqueueNew(frame, retry, false);
    }

    /** On the event thread. */
    private CompletableFuture<JsonObject> enqueueNew(JsonObject frame, boolean retry, boolean covered) {
        Pending p = new Pending(frame, retry, covered);
        if (state == ConnectionState.CLOSED) p.future.completeExceptionally(terminalError());
        else enqueue(p);
        return p.future;
    }

    private void enqueue(Pending p) {
        if (state == ConnectionState.OPEN && ws != null && queue.isEmpty()) transmit(p);
        else queue.add(p);
    }

    private void flush() {
        while (!queue.isEmpty() && state == ConnectionState.OPEN && ws != null) transmit(queue.poll());
    }

    private void transmit(Pending p) {
        p.id = nextId++;
        inflight.put(p.id, p);
        final long id = p.id;
        p.timer = loop.schedule(() -> {
            if (inflight.get(id) != p) return;
            inflight.remove(id);
            if (p == loggingOut) loggingOut = null;
            p.future.completeExceptionally(new PgwConnectionException(PgwConnectionException.Kind.TIMEOUT,
                    "no reply to " + PgwException.stringOf(p.frame, "type") + " within " + requestTimeoutMs + " ms", 0, ""));
        }, requestTimeoutMs, TimeUnit.MILLISECONDS);
        JsonObject f = p.frame.deepCopy();
        f.addProperty("id", id);
        ws.send(Json.GSON.toJson(f)); // a closing socket drops it; the close handler decides
    }

    private CompletableFuture<List<Presence>> sendSubscribe(List<String> users, boolean tenant) {
        List<JsonObject> frames = new ArrayList<>();
        for (int i = 0; i < users.size(); i += MAX_USERS_PER_FRAME) {
            JsonObject f = frame("subscribe");
            f.add("users", Json.GSON.toJsonTree(users.subList(i, Math.min(users.size(), i + MAX_USERS_PER_FRAME))));
            frames.add(f);
        }
        if (tenant) {
            if (frames.isEmpty()) frames.add(frame("subscribe"));
            frames.get(0).addProperty("tenant", true);
        }
        List<CompletableFuture<JsonObject>> replies = new ArrayList<>();
        for (JsonObject f : frames) replies.add(enqueueNew(f, true, true));
        CompletableFuture<List<Presence>> out = new CompletableFuture<>();
        CompletableFuture.allOf(replies.toArray(new CompletableFuture<?>[0])).whenComplete((v, err) -> {
            if (err != null) {
                out.completeExceptionally(unwrap(err));
                return;
            }
            List<Presence> list = new ArrayList<>();
            for (CompletableFuture<JsonObject> r : replies) {
                JsonElement e = r.join().get("presence");
                if (e != null && e.isJsonArray()) {
                    for (JsonElement x : (JsonArray) e) {
                        Presence p = asPresence(x);
                        if (p != null) list.add(p);
                    }
                }
            }
            out.complete(list);
        });
        return out;
    }

    private CompletableFuture<Void> sendUnsubscribe(List<String> users, boolean tenant) {
        // While disconnected there is nothing to undo: the re-subscribe names only what is left.
        if (state != ConnectionState.OPEN || (users.isEmpty() && !tenant)) return CompletableFuture.completedFuture(null);
        List<CompletableFuture<JsonObject>> replies = new ArrayList<>();
        for (int i = 0; i < users.size(); i += MAX_USERS_PER_FRAME) {
            JsonObject f = frame("unsubscribe");
            f.add("users", Json.GSON.toJsonTree(users.subList(i, Math.min(users.size(), i + MAX_USERS_PER_FRAME))));
            replies.add(enqueueNew(f, false));
        }
        if (tenant) {
            JsonObject f = frame("unsubscribe");
            f.addProperty("tenant", true);
            replies.add(enqueueNew(f, false));
        }
        CompletableFuture<Void> out = new CompletableFuture<>();
        CompletableFuture.allOf(replies.toArray(new CompletableFuture<?>[0])).whenComplete((v, err) -> {
            Throwable e = err == null ? null : unwrap(err);
            if (e != null && !(e instanceof PgwConnectionException)) out.completeExceptionally(e);
            else out.complete(null);
        });
        return out;
    }

    private CompletableFuture<Void> releaseViewNow(PresenceView view) {
        if (!views.remove(view)) return CompletableFuture.completedFuture(null);
        List<String> gone = new ArrayList<>();
        for (String u : view.namedUsers()) {
            Integer n = subs.get(u);
            if (n == null) continue;
            if (n > 1) subs.put(u, n - 1);
            else {
                subs.remove(u);
                gone.add(u);
            }
        }
        boolean tenantGone = false;
        if (view.isTenant() && tenantSubs > 0) {
            tenantSubs--;
            tenantGone = tenantSubs == 0;
        }
        return sendUnsubscribe(gone, tenantGone);
    }

    // ---- presence -------------------------------------------------------------------------------

    private static Presence asPresence(JsonElement e) {
        if (e == null || !e.isJsonObject()) return null;
        JsonObject o = e.getAsJsonObject();
        if (PgwException.stringOf(o, "user").isEmpty() || PgwException.stringOf(o, "status").isEmpty()) return null;
        JsonElement v = o.get("version");
        if (v == null || !v.isJsonPrimitive() || !v.getAsJsonPrimitive().isNumber()) return null;
        return Json.GSON.fromJson(o, Presence.class);
    }

    /**
     * Takes p if it is newer than what this connection delivered for its user, or the first on this
     * connection ({@link #versions} is cleared on every welcome, so a reconnect's subscribe reply is
     * the new starting point even with lower versions: contract §3.2 v1.1). The same object the
     * client already holds (a reconnect's reply for a user who did not change) is no change.
     */
    private boolean accept(Presence p) {
        Long have = versions.get(p.getUser());
        if (have != null && p.getVersion() <= have) return false;
        versions.put(p.getUser(), p.getVersion());
        Presence old = known.get(p.getUser());
        if (old != null && old.getVersion() == p.getVersion() && old.equals(p)) return false;
        known.put(p.getUser(), p);
        for (PgwListener l : listeners) {
            try {
                l.onPresence(p);
            } catch (RuntimeException e) {
                listenerFailed(e);
            }
        }
        for (PresenceView v : new ArrayList<>(views)) v.put(p);
        return true;
    }

    /**
     * Applies a subscribe reply. For a tenant snapshot (which lists only users who are not
     * offline), users a tenant view still shows present but the snapshot omits went offline while the
     * client was away.
     */
    private void applySnapshot(List<Presence> list, boolean tenant) {
        for (Presence p : list) accept(p);
        if (!tenant) return;
        Set<String> listed = new HashSet<>();
        for (Presence p : list) listed.add(p.getUser());
        for (PresenceView v : new ArrayList<>(views)) {
            if (!v.isTenant()) continue;
            for (String u : v.held()) {
                Presence prev = v.get(u);
                if (prev == null || listed.contains(u) || "offline".equals(prev.getStatus()) || subs.containsKey(u)) continue;
                Presence cur = known.getOrDefault(u, prev);
                if (cur.getVersion() > prev.getVersion()) continue;
                Presence off = cur.asOffline();
                known.put(u, off);
                for (PgwListener l : listeners) l.onPresence(off);
                for (PresenceView w : views) if (w.has(u)) w.put(off);
            }
        }
    }

    /**
     * Subscribes on the new connection to every user and the tenant still wanted, in one request
     * (split only past the per-frame limit). Subscribes still queued (made while not open, or whose
     * reply the last connection lost) ask for a part of that: they leave the queue and complete with
     * this reply, so the server gets one subscribe per need.
     */
    private void resubscribe() {
        List<Pending> covered = new ArrayList<>();
        for (Iterator<Pending> it = queue.iterator(); it.hasNext(); ) {
            Pending p = it.next();
            if (!p.covered) continue;
            it.remove();
            covered.add(p);
        }
        boolean tenant = tenantSubs > 0;
        sendSubscribe(new ArrayList<>(subs.keySet()), tenant).whenComplete((list, err) -> {
            if (err == null) {
                applySnapshot(list, tenant);
                JsonObject reply = new JsonObject();
                reply.add("presence", Json.GSON.toJsonTree(list));
                for (Pending p : covered) p.future.complete(reply);
                return;
            }
            Throwable e = unwrap(err);
            for (Pending p : covered) p.future.completeExceptionally(e);
            // A lost reply is re-sent after the next welcome; anything else is reported.
            if (!(e instanceof PgwConnectionException && ((PgwConnectionException) e).getKind() != PgwConnectionException.Kind.TIMEOUT)) {
                emitError(e);
            }
        });
    }

    // ---- connection -----------------------------------------------------------------------------

    private void openSocket() {
        final int gen = ++generation;
        if (tokenSupplier == null) {
            dial(gen, token);
            return;
        }
        fetchToken().whenComplete((t, err) -> post(() -> {
            if (gen != generation || state == ConnectionState.CLOSED) return;
            if (err != null) {
                emitError(unwrap(err));
                afterClose(gen, 1006, "get_token_failed");
                return;
            }
            token = t;
            dial(gen, t);
        }));
    }

    /** Calls the token supplier off the event thread, bounded by the request timeout. */
    private CompletableFuture<String> fetchToken() {
        CompletableFuture<String> f = new CompletableFuture<>();
        tokenPool.execute(() -> {
            try {
                String t = tokenSupplier.get();
                if (t == null || t.isEmpty()) {
                    f.completeExceptionally(Validate.fail("connect", "tokenSupplier", "must return a non-empty token (got " + Validate.describe(t) + ")"));
                } else {
                    f.complete(t);
                }
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        ScheduledFuture<?> timeout = loop.schedule(() -> f.completeExceptionally(new PgwConnectionException(PgwConnectionException.Kind.TIMEOUT,
                "the token supplier did not answer within " + requestTimeoutMs + " ms", 0, "")), requestTimeoutMs, TimeUnit.MILLISECONDS);
        f.whenComplete((t, e) -> timeout.cancel(false));
        return f;
    }

    private void dial(int gen, String tok) {
        Request req = new Request.Builder().url(url).build();
        ws = http.newWebSocket(req, new WebSocketListener() {
            @Override
            public void onOpen(WebSocket socket, Response response) {
                post(() -> onOpened(gen, socket, tok));
            }

            @Override
            public void onMessage(WebSocket socket, String text) {
                post(() -> {
                    if (gen == generation) onText(text);
                });
            }

            @Override
            public void onClosing(WebSocket socket, int code, String reason) {
                socket.close(code, null); // complete the close handshake
                post(() -> afterClose(gen, code, reason));
            }

            @Override
            public void onClosed(WebSocket socket, int code, String reason) {
                post(() -> afterClose(gen, code, reason));
            }

            @Override
            public void onFailure(WebSocket socket, Throwable t, Response response) {
                post(() -> afterClose(gen, 1006, t.getMessage() == null ? t.toString() : t.getMessage()));
            }
        });
    }

    private void onOpened(int gen, WebSocket socket, String tok) {
        if (gen != generation) {
            socket.close(1000, "superseded");
            return;
        }
        JsonObject hello = frame("hello");
        helloId = nextId++;
        hello.addProperty("id", helloId);
        hello.addProperty("token", tok);
        if (sessionId != null) hello.addProperty("session", sessionId);
        hello.addProperty("window", window);
        hello.addProperty("device", device);
        if (clientName != null) hello.addProperty("client", clientName);
        socket.send(Json.GSON.toJson(hello));
        helloTimer = loop.schedule(() -> {
            if (gen == generation && state != ConnectionState.OPEN) socket.close(4000, "no_welcome");
        }, requestTimeoutMs, TimeUnit.MILLISECONDS);
    }

    private void onText(String text) {
        JsonObject f;
        try {
            JsonElement e = JsonParser.parseString(text);
            if (!e.isJsonObject()) return;
            f = e.getAsJsonObject();
        } catch (RuntimeException notJson) {
            return;
        }
        String type = PgwException.stringOf(f, "type");
        long id = f.has("id") && f.get("id").isJsonPrimitive() && f.get("id").getAsJsonPrimitive().isNumber() ? f.get("id").getAsLong() : -1;
        switch (type) {
            case "welcome":
                if (id == helloId) onWelcome(Json.GSON.fromJson(f, Welcome.class));
                return;
            case "ok": {
                Pending p = inflight.remove(id);
                if (p == null) return;
                if (p.timer != null) p.timer.cancel(false);
                if (p == loggingOut) loggingOut = null;
                JsonObject fields = f.deepCopy();
                fields.remove("type");
                fields.remove("id");
                p.future.complete(fields);
                return;
            }
            case "error": {
                JsonElement pe = f.get("error");
                PgwException err = new PgwException(pe != null && pe.isJsonObject() ? pe.getAsJsonObject() : new JsonObject());
                if (id >= 0 && id == helloId) {
                    helloError = err;
                    return;
                }
                Pending p = id >= 0 ? inflight.remove(id) : null;
                if (p == null) {
                    emitError(err);
                    return;
                }
                if (p.timer != null) p.timer.cancel(false);
                if (p == loggingOut) loggingOut = null;
                p.future.completeExceptionally(err);
                return;
            }
            case "presence": {
                Presence p = asPresence(f);
                if (p != null) accept(p);
                return;
            }
            case "call":
                for (PgwListener l : listeners) {
                    try {
                        l.onCall(f);
                    } catch (RuntimeException e) {
                        listenerFailed(e);
                    }
                }
                return;
            case "expiring": {
                long exp = f.has("expires") ? f.get("expires").getAsLong() : 0;
                for (PgwListener l : listeners) {
                    try {
                        l.onExpiring(exp);
                    } catch (RuntimeException e) {
                        listenerFailed(e);
                    }
                }
                if (tokenSupplier != null) refreshFromSupplier();
                return;
            }
            case "bye": {
                String reason = PgwException.stringOf(f, "reason");
                for (PgwListener l : listeners) {
                    try {
                        l.onBye(reason);
                    } catch (RuntimeException e) {
                        listenerFailed(e);
                    }
                }
                return;
            }
            default:
                // Frame types of a newer contract are ignored.
        }
    }

    private void onWelcome(Welcome w) {
        if (helloTimer != null) helloTimer.cancel(false);
        // A new connection: what the old one delivered no longer orders anything (§3.2 v1.1).
        versions.clear();
        lastWelcome = w;
        if (w.getSession() != null && !w.getSession().isEmpty()) sessionId = w.getSession();
        if (w.getExpires() > 0) expiresAt = w.getExpires();
        attempt = 0;
        authFailures = 0;
        helloError = null;
        setState(ConnectionState.OPEN, 0, "", 0, 0, null);
        for (PgwListener l : listeners) {
            try {
                l.onWelcome(w);
            } catch (RuntimeException e) {
                listenerFailed(e);
            }
        }
        for (CompletableFuture<Welcome> r : readyWaiters) r.complete(w);
        readyWaiters.clear();
        scheduleRefresh();
        resubscribe();
        if (Boolean.TRUE.equals(lastIdle)) {
            JsonObject f = frame("idle");
            f.addProperty("idle", true);
            enqueueNew(f, true).whenComplete((r, err) -> {
                if (err != null && !(unwrap(err) instanceof PgwConnectionException)) emitError(unwrap(err));
            });
        }
        flush();
    }

    private void afterClose(int gen, int code, String reason) {
        if (gen != generation || state == ConnectionState.CLOSED) return;
        generation++; // later events of this socket are stale
        ws = null;
        if (helloTimer != null) helloTimer.cancel(false);
        boolean wasOpen = state == ConnectionState.OPEN;
        // Requests in flight: re-send those that may be, fail the others.
        List<Pending> resend = new ArrayList<>();
        Pending loggedOut = null; // completed once the client is closed, so its callbacks see CLOSED
        for (Iterator<Pending> it = inflight.values().iterator(); it.hasNext(); ) {
            Pending p = it.next();
            it.remove();
            if (p.timer != null) p.timer.cancel(false);
            if (p == loggingOut && code == 1000) {
                loggingOut = null;
                loggedOut = p;
            } else if (p.retry) {
                resend.add(p);
            } else {
                if (p == loggingOut) loggingOut = null;
                p.future.completeExceptionally(new PgwConnectionException(PgwConnectionException.Kind.LOST,
                        "the connection closed (" + code + " " + reason + ") before the reply to " + PgwException.stringOf(p.frame, "type"), code, reason));
            }
        }
        for (int i = resend.size() - 1; i >= 0; i--) queue.addFirst(resend.get(i));
        long delay;
        Reconnect rule = Reconnect.forCloseCode(code);
        switch (rule) {
            case NO:
                delay = -1;
                break;
            case AT_ONCE:
                delay = (long) Math.floor(random.nextDouble() * goingAwayJitterMs);
                break;
            case NEW_TOKEN:
                authFailures++;
                if (tokenSupplier == null || authFailures > maxAuthRetries) delay = -1;
                else if (wasOpen || authFailures == 1) delay = (long) Math.floor(random.nextDouble() * goingAwayJitterMs);
                else delay = Reconnect.backoffDelay(attempt, initialDelayMs, maxDelayMs, random);
                break;
            default:
                delay = Reconnect.backoffDelay(attempt, initialDelayMs, maxDelayMs, random);
        }
        if (delay < 0) {
            closeError = helloError != null ? helloError
                    : new PgwConnectionException(PgwConnectionException.Kind.CLOSED, "the gateway closed the connection: " + code + " " + reason, code, reason);
            toClosed(code, reason, helloError);
            if (loggedOut != null) loggedOut.future.complete(new JsonObject());
            return;
        }
        if (loggedOut != null) loggedOut.future.complete(new JsonObject()); // (1000 always closes: not reached)
        attempt++;
        setState(ConnectionState.RECONNECTING, code, reason, delay, attempt, null);
        reconnectTimer = loop.schedule(this::openSocket, delay, TimeUnit.MILLISECONDS);
    }

    private void closeNow() {
        if (state == ConnectionState.CLOSED) return;
        WebSocket s = ws;
        ws = null;
        closeError = new PgwConnectionException(PgwConnectionException.Kind.CLOSED, "the client was closed", 1000, "client_close");
        toClosed(1000, "client_close", null);
        if (s != null) s.close(1000, "client_close");
    }

    private void toClosed(int code, String reason, Throwable error) {
        generation++;
        if (helloTimer != null) helloTimer.cancel(false);
        if (reconnectTimer != null) reconnectTimer.cancel(false);
        if (refreshTimer != null) refreshTimer.cancel(false);
        Throwable err = terminalError();
        for (Pending p : queue) p.future.completeExceptionally(err);
        queue.clear();
        for (Pending p : inflight.values()) {
            if (p.timer != null) p.timer.cancel(false);
            p.future.completeExceptionally(err);
        }
        inflight.clear();
        setState(ConnectionState.CLOSED, code, reason, 0, 0, error);
        for (CompletableFuture<Welcome> r : readyWaiters) r.completeExceptionally(err);
        readyWaiters.clear();
        // Let the tasks already queued run, then end the event thread.
        loop.shutdown();
        tokenPool.shutdown();
        if (ownsHttp) {
            http.dispatcher().executorService().shutdown();
            http.connectionPool().evictAll();
        }
    }

    private Throwable terminalError() {
        return closeError != null ? closeError : new PgwConnectionException(PgwConnectionException.Kind.CLOSED, "the client is closed", 0, "");
    }

    private void setState(ConnectionState next, int code, String reason, long delayMs, int att, Throwable error) {
        ConnectionState previous = state;
        state = next;
        StateChange c = new StateChange(next, previous, code, reason, delayMs, att, error);
        for (PgwListener l : listeners) {
            try {
                l.onState(c);
            } catch (RuntimeException e) {
                listenerFailed(e);
            }
        }
    }

    private void emitError(Throwable e) {
        for (PgwListener l : listeners) {
            try {
                l.onError(e);
            } catch (RuntimeException ignored) {
                // See listenerFailed.
            }
        }
    }

    // ---- token refresh --------------------------------------------------------------------------

    /** Refreshes about 65 s before expiry (at half the remaining life for short tokens). */
    private void scheduleRefresh() {
        if (refreshTimer != null) refreshTimer.cancel(false);
        if (tokenSupplier == null || expiresAt <= 0) return;
        long remainingMs = expiresAt * 1000 - System.currentTimeMillis();
        if (remainingMs <= 0) return;
        long lead = Math.min(65_000, remainingMs / 2);
        refreshTimer = loop.schedule(this::refreshFromSupplier, remainingMs - lead, TimeUnit.MILLISECONDS);
    }

    private void refreshFromSupplier() {
        if (refreshing || state != ConnectionState.OPEN) return;
        refreshing = true;
        fetchToken().whenComplete((t, err) -> post(() -> {
            if (err != null) {
                refreshing = false;
                emitError(unwrap(err));
                return;
            }
            JsonObject f = frame("refresh");
            f.addProperty("token", t);
            enqueueNew(f, false).whenComplete((reply, e2) -> {
                refreshing = false;
                if (e2 != null) {
                    emitError(unwrap(e2));
                    return;
                }
                token = t;
                JsonElement e = reply.get("expires");
                if (e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()) {
                    expiresAt = e.getAsLong();
                    scheduleRefresh();
                }
            });
        }));
    }

    /** Builds a {@link PgwClient}. */
    public static final class Builder {
        private String url;
        private String token;
        private Supplier<String> tokenSupplier;
        private String session;
        private String window = "main";
        private String device;
        private String client;
        private OkHttpClient http;
        private long initialDelayMs = 500;
        private long maxDelayMs = 30_000;
        private long goingAwayJitterMs = 1_000;
        private int maxAuthRetries = 3;
        private long requestTimeoutMs = 10_000;
        private Random random;
        private final List<PgwListener> listeners = new ArrayList<>();

        private Builder() {}

        /** The gateway's WebSocket URL, e.g. {@code wss://pgw.example.com/v1/ws} (required). */
        public Builder url(String url) { this.url = url; return this; }
        /** A JWT. Give this or {@link #tokenSupplier}. */
        public Builder token(String token) { this.token = token; return this; }
        /**
         * Returns a fresh JWT; called (off the event thread) before every (re)connect, on
         * {@code expiring} and before the token expires. It lets the client recover from 4401.
         */
        public Builder tokenSupplier(Supplier<String> tokenSupplier) { this.tokenSupplier = tokenSupplier; return this; }
        /** The session id shared by every window of the app instance (a UUID: {@link #newSessionId()}). */
        public Builder session(String session) { this.session = session; return this; }
        /** {@code main} (default) or {@code child}. */
        public Builder window(String window) { this.window = window; return this; }
        /** {@code desktop}, {@code web}, {@code mobile} or {@code bridge} (required). */
        public Builder device(String device) { this.device = device; return this; }
        /** {@code name/version} of the app, sent in hello. */
        public Builder client(String client) { this.client = client; return this; }
        /** The OkHttp client (share one between clients); by default a new one owned by this client. */
        public Builder httpClient(OkHttpClient http) { this.http = http; return this; }
        /** Adds a listener before connecting, so it sees the first welcome. */
        public Builder listener(PgwListener l) { this.listeners.add(l); return this; }
        /** Backoff: the first window (default 500 ms) and the largest (default 30 000 ms). */
        public Builder backoff(long initialDelayMs, long maxDelayMs) {
            this.initialDelayMs = initialDelayMs;
            this.maxDelayMs = maxDelayMs;
            return this;
        }
        /** The jitter window of a 1001 (reconnect at once), default 1 000 ms. */
        public Builder goingAwayJitterMs(long ms) { this.goingAwayJitterMs = ms; return this; }
        /** Consecutive 4401 refusals, each with a new token, before giving up (default 3). */
        public Builder maxAuthRetries(int n) { this.maxAuthRetries = n; return this; }
        /** How long a request waits for its reply, and the hello for its welcome (default 10 000 ms). */
        public Builder requestTimeoutMs(long ms) { this.requestTimeoutMs = ms; return this; }
        Builder random(Random random) { this.random = random; return this; }

        /** A new random session id (a UUID), one per app instance. */
        public static String newSessionId() { return UUID.randomUUID().toString(); }

        /** Checks the options and starts connecting. */
        public PgwClient build() {
            String m = "connect";
            if (url == null || url.isEmpty()) throw Validate.fail(m, "url", "is required: the gateway's ws:// or wss:// URL (got " + Validate.describe(url) + ")");
            String lower = url.toLowerCase(java.util.Locale.ROOT);
            if (!lower.startsWith("ws://") && !lower.startsWith("wss://")) {
                throw Validate.fail(m, "url", "must start with ws:// or wss:// (got " + Validate.describe(url) + ")");
            }
            if (token != null && tokenSupplier != null) throw Validate.fail(m, "token", "and \"tokenSupplier\" are exclusive: give one");
            if (token == null && tokenSupplier == null) throw Validate.fail(m, "token", "is required: give token (a JWT) or tokenSupplier");
            if (token != null && token.isEmpty()) throw Validate.fail(m, "token", "must be a non-empty string (got \"\")");
            Validate.oneOf(m, "device", device, Validate.DEVICES);
            Validate.oneOf(m, "window", window, Validate.WINDOWS);
            if (session != null) Validate.id(m, "session", session);
            if (client != null && client.isEmpty()) throw Validate.fail(m, "client", "must be a \"name/version\" string (got \"\")");
            if (requestTimeoutMs <= 0) throw Validate.fail(m, "requestTimeoutMs", "must be a positive number of milliseconds (got number " + requestTimeoutMs + ")");
            if (initialDelayMs <= 0 || maxDelayMs < initialDelayMs) {
                throw Validate.fail(m, "backoff", "must have 0 < initialDelayMs <= maxDelayMs (got " + initialDelayMs + ", " + maxDelayMs + ")");
            }
            return new PgwClient(this);
        }
    }
}
