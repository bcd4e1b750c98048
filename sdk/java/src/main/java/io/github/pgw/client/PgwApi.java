package io.github.pgw.client;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.reflect.TypeToken;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;

/**
 * The gateway's HTTP API (docs/openapi.yaml, contract §7) for backends. Thread-safe: make one per
 * gateway and caller identity and share it (a Spring bean, a static field).
 *
 * <p>Every method checks its arguments before sending anything ({@link PgwArgumentException}); a
 * non-2xx answer raises {@link PgwApiException}. Only a 429 or 503 that carries {@code Retry-After}
 * is retried: after Retry-After plus a small growing jitter, at most {@code maxAttempts} attempts in
 * all, and never when Retry-After is longer than {@code maxWaitMs}. A network failure raises
 * {@link UncheckedIOException}.
 *
 * <p>The {@code ...Async} variants run the call on the executor given to the builder (by default a
 * small pool of daemon threads owned by this object) and complete the future with the result or the
 * same exception.
 */
public final class PgwApi {
    private static final MediaType JSON = MediaType.get("application/json; charset=utf-8");

    private final HttpUrl base;
    private final Supplier<String> tokens;
    private final OkHttpClient http;
    private final int maxAttempts;
    private final long maxWaitMs;
    private final Random random;
    private final Sleeper sleeper;
    private final Executor executor;

    /** How the client waits between attempts (tests replace it). */
    interface Sleeper {
        void sleep(long ms) throws InterruptedException;
    }

    private PgwApi(Builder b) {
        this.base = b.parsedBase;
        this.tokens = b.tokenSupplier != null ? b.tokenSupplier : constant(b.token);
        this.http = b.http != null ? b.http : new OkHttpClient();
        this.maxAttempts = b.maxAttempts;
        this.maxWaitMs = b.maxWaitMs;
        this.random = b.random != null ? b.random : new Random();
        this.sleeper = b.sleeper != null ? b.sleeper : Thread::sleep;
        this.executor = b.executor != null ? b.executor : defaultExecutor();
    }

    private static Supplier<String> constant(String token) {
        return () -> token;
    }

    private static ExecutorService defaultExecutor() {
        AtomicInteger n = new AtomicInteger();
        ThreadFactory f = r -> {
            Thread t = new Thread(r, "pgw-api-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        return Executors.newCachedThreadPool(f);
    }

    /** A builder: {@code PgwApi.builder().baseUrl("https://pgw.example.com").token(jwt).build()}. */
    public static Builder builder() {
        return new Builder();
    }

    // ---- the routes ----------------------------------------------------------------------------

    /** {@code GET /v1/presence/{user}}: a user's presence (never-seen users are offline, version 0). */
    public Presence getPresence(String user) {
        Validate.id("getPresence", "user", user);
        return Json.GSON.fromJson(call("GET", path("v1", "presence", user), null), Presence.class);
    }

    /** {@code POST /v1/presence/query}: the presence of each user (1 to 1000), in the order asked. */
    public List<Presence> queryPresence(List<String> users) {
        Validate.users("queryPresence", users);
        Map<String, Object> body = Collections.<String, Object>singletonMap("users", users);
        JsonElement out = call("POST", path("v1", "presence", "query"), body);
        List<Presence> list = Json.GSON.fromJson(out.getAsJsonObject().get("presence"), new TypeToken<List<Presence>>() {}.getType());
        return Collections.unmodifiableList(list == null ? new ArrayList<Presence>() : list);
    }

    /**
     * {@code PUT /v1/presence/{user}/status}: sets a user's manual status across all the user's
     * sessions. {@code status} is online (clears it), away, busy, dnd, or a custom status of the
     * tenant (contract §9; the answer then has {@link Presence#getCustom()} and the base as its
     * status); {@code note} (at most 140 characters) may be null. A name the tenant does not define
     * fails with the gateway's 400 {@link PgwApiException} naming {@code status} and the choices.
     */
    public Presence setStatus(String user, String status, String note) {
        Validate.id("setStatus", "user", user);
        Validate.statusName("setStatus", status);
        Validate.note("setStatus", note);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", status);
        if (note != null) body.put("note", note);
        return Json.GSON.fromJson(call("PUT", path("v1", "presence", user, "status"), body), Presence.class);
    }

    /** {@code DELETE /v1/sessions/{session}}: ends the session on every node, like its logout. */
    public void deleteSession(String session) {
        Validate.id("deleteSession", "session", session);
        call("DELETE", path("v1", "sessions", session), null);
    }

    /** {@code POST /v1/ipt/events}: telephony events of an HTTP-only bridge (an empty list is a heartbeat). */
    public IptEventsResult postIptEvents(String bridge, List<IptEvent> events) {
        Validate.id("postIPTEvents", "bridge", bridge);
        Validate.events("postIPTEvents", events, true);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("bridge", bridge);
        body.put("events", events);
        return Json.GSON.fromJson(call("POST", path("v1", "ipt", "events"), body), IptEventsResult.class);
    }

    /** {@code POST /v1/ipt/sync}: the full device truth of an HTTP-only bridge. */
    public IptSyncResult postIptSync(String bridge, List<SyncDevice> devices) {
        Validate.id("postIPTSync", "bridge", bridge);
        Validate.devices("postIPTSync", devices);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("bridge", bridge);
        body.put("devices", devices);
        return Json.GSON.fromJson(call("POST", path("v1", "ipt", "sync"), body), IptSyncResult.class);
    }

    /**
     * {@code GET /v1/tenants/{tenant}}: the tenant's policy (contract §9) and its ETag; {@code {}} when
     * none is stored. Needs role operator, or admin of that tenant.
     */
    public VersionedPolicy getTenant(String tenant) {
        Validate.id("getTenant", "tenant", tenant);
        return versioned(exchange("GET", path("v1", "tenants", tenant), null, null));
    }

    /**
     * {@code PUT /v1/tenants/{tenant}}: replaces the whole policy if it is still at {@code ifMatch} (the
     * ETag of {@link #getTenant}). A {@link PgwApiException} with code {@code precondition_failed} (412)
     * means someone changed it since: read it again and reapply the change.
     */
    public VersionedPolicy putTenant(String tenant, JsonObject policy, String ifMatch) {
        Validate.id("putTenant", "tenant", tenant);
        if (policy == null) throw Validate.fail("putTenant", "policy", "must be a policy object ({} for none) (got null)");
        if (ifMatch == null || ifMatch.trim().isEmpty()) {
            throw Validate.fail("putTenant", "ifMatch", "is required: the etag of getTenant (got " + Validate.describe(ifMatch) + ")");
        }
        return versioned(exchange("PUT", path("v1", "tenants", tenant), policy, ifMatch));
    }

    /** {@code GET /v1/tenants/{tenant}/history}: who changed the policy, when and what, newest first. */
    public TenantHistory getTenantHistory(String tenant) {
        Validate.id("getTenantHistory", "tenant", tenant);
        return Json.GSON.fromJson(call("GET", path("v1", "tenants", tenant, "history"), null), TenantHistory.class);
    }

    private static VersionedPolicy versioned(Answer a) {
        JsonObject p = a.body != null && a.body.isJsonObject() ? a.body.getAsJsonObject() : new JsonObject();
        return new VersionedPolicy(p, a.etag == null ? "" : a.etag);
    }

    // ---- async variants -------------------------------------------------------------------------

    /** {@link #getTenant} on the executor. */
    public CompletableFuture<VersionedPolicy> getTenantAsync(String tenant) {
        return async(() -> getTenant(tenant));
    }

    /** {@link #putTenant} on the executor. */
    public CompletableFuture<VersionedPolicy> putTenantAsync(String tenant, JsonObject policy, String ifMatch) {
        return async(() -> putTenant(tenant, policy, ifMatch));
    }

    /** {@link #getTenantHistory} on the executor. */
    public CompletableFuture<TenantHistory> getTenantHistoryAsync(String tenant) {
        return async(() -> getTenantHistory(tenant));
    }

    /** {@link #getPresence} on the executor. Arguments are checked at once (the future fails with them). */
    public CompletableFuture<Presence> getPresenceAsync(String user) {
        return async(() -> getPresence(user));
    }

    /** {@link #queryPresence} on the executor. */
    public CompletableFuture<List<Presence>> queryPresenceAsync(List<String> users) {
        return async(() -> queryPresence(users));
    }

    /** {@link #setStatus} on the executor. */
    public CompletableFuture<Presence> setStatusAsync(String user, String status, String note) {
        return async(() -> setStatus(user, status, note));
    }

    /** {@link #deleteSession} on the executor. */
    public CompletableFuture<Void> deleteSessionAsync(String session) {
        return async(() -> {
            deleteSession(session);
            return null;
        });
    }

    /** {@link #postIptEvents} on the executor. */
    public CompletableFuture<IptEventsResult> postIptEventsAsync(String bridge, List<IptEvent> events) {
        return async(() -> postIptEvents(bridge, events));
    }

    /** {@link #postIptSync} on the executor. */
    public CompletableFuture<IptSyncResult> postIptSyncAsync(String bridge, List<SyncDevice> devices) {
        return async(() -> postIptSync(bridge, devices));
    }

    private <T> CompletableFuture<T> async(Supplier<T> work) {
        CompletableFuture<T> f = new CompletableFuture<>();
        try {
            executor.execute(() -> {
                try {
                    f.complete(work.get());
                } catch (Throwable t) {
                    f.completeExceptionally(t);
                }
            });
        } catch (RuntimeException e) {
            f.completeExceptionally(e);
        }
        return f;
    }

    // ---- the exchange ---------------------------------------------------------------------------

    private HttpUrl path(String... segments) {
        HttpUrl.Builder b = base.newBuilder();
        for (String s : segments) b.addPathSegment(s);
        return b.build();
    }

    /** Sends one call with the retry rule; returns the JSON body (JsonNull for 204). */
    private JsonElement call(String method, HttpUrl url, Object body) {
        return exchange(method, url, body, null).body;
    }

    /** An answer: its JSON body and ETag. */
    private static final class Answer {
        final JsonElement body;
        final String etag;

        Answer(JsonElement body, String etag) {
            this.body = body;
            this.etag = etag;
        }
    }

    private Answer exchange(String method, HttpUrl url, Object body, String ifMatch) {
        String json = body == null ? null : Json.GSON.toJson(body);
        for (int attempt = 1; ; attempt++) {
            String token = tokens.get();
            if (token == null || token.isEmpty()) {
                throw Validate.fail(method + " " + url.encodedPath(), "token", "supplier must return a non-empty token (got " + Validate.describe(token) + ")");
            }
            Request.Builder rb = new Request.Builder().url(url)
                    .header("Authorization", "Bearer " + token)
                    .header("Accept", "application/json")
                    .method(method, json == null ? null : RequestBody.create(JSON, json));
            if (ifMatch != null) rb.header("If-Match", ifMatch);
            PgwApiException err;
            try (Response res = http.newCall(rb.build()).execute()) {
                ResponseBody rbody = res.body();
                String text = rbody == null ? "" : rbody.string();
                if (res.isSuccessful()) {
                    String etag = res.header("ETag");
                    if (res.code() == 204 || text.isEmpty()) return new Answer(com.google.gson.JsonNull.INSTANCE, etag);
                    return new Answer(JsonParser.parseString(text), etag);
                }
                err = toError(res, text);
            } catch (InterruptedIOException e) {
                throw new UncheckedIOException(e);
            } catch (IOException e) {
                throw new UncheckedIOException(method + " " + url + ": " + e.getMessage(), e);
            }
            long wait = retryWait(err, attempt);
            if (wait < 0) throw err;
            try {
                sleeper.sleep(wait);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw err;
            }
        }
    }

    /** The wait before the next attempt in ms, or -1 when the answer is final. */
    private long retryWait(PgwApiException err, int attempt) {
        int status = err.getStatus();
        if (status != 429 && status != 503) return -1;
        Integer after = err.getRetryAfter();
        if (after == null || attempt >= maxAttempts) return -1;
        long ms = after * 1000L;
        if (ms > maxWaitMs) return -1;
        long window = Math.min(250L << Math.min(attempt - 1, 20), 5_000L);
        return ms + (long) Math.floor(random.nextDouble() * window);
    }

    static PgwApiException toError(Response res, String text) {
        Integer retryAfter = parseRetryAfter(res.header("Retry-After"));
        JsonObject problem = null;
        try {
            JsonElement e = JsonParser.parseString(text);
            if (e.isJsonObject() && PgwException.stringOf(e.getAsJsonObject(), "code").length() > 0) problem = e.getAsJsonObject();
        } catch (RuntimeException notJson) {
            // A proxy's page: described below.
        }
        if (problem == null) {
            String type = res.header("Content-Type", "no content type");
            problem = new JsonObject();
            problem.addProperty("type", "about:blank");
            problem.addProperty("title", res.message().isEmpty() ? "HTTP " + res.code() : res.message());
            problem.addProperty("status", res.code());
            problem.addProperty("code", "http_" + res.code());
            problem.addProperty("detail", "HTTP " + res.code() + " answered with a body that is not a problem (" + type + ")");
        }
        if (!problem.has("status")) problem.addProperty("status", res.code());
        return new PgwApiException(problem, retryAfter);
    }

    /** Retry-After in seconds: delta-seconds, or an HTTP date (RFC 9110 §10.2.3); null when absent or unreadable. */
    static Integer parseRetryAfter(String v) {
        if (v == null) return null;
        String s = v.trim();
        if (s.matches("\\d{1,9}")) return Integer.valueOf(s);
        java.util.Date at = okhttp3.internal.http.HttpDate.parse(s);
        if (at == null) return null;
        long secs = (long) Math.ceil((at.getTime() - System.currentTimeMillis()) / 1000.0);
        return (int) Math.max(0, Math.min(secs, Integer.MAX_VALUE));
    }

    /** Builds a {@link PgwApi}. */
    public static final class Builder {
        private String baseUrl;
        private HttpUrl parsedBase;
        private String token;
        private Supplier<String> tokenSupplier;
        private OkHttpClient http;
        private int maxAttempts = 3;
        private long maxWaitMs = 30_000;
        private Random random;
        private Sleeper sleeper;
        private Executor executor;

        private Builder() {}

        /** The gateway's base URL, e.g. {@code https://pgw.example.com} (required). */
        public Builder baseUrl(String baseUrl) { this.baseUrl = baseUrl; return this; }

        /** A JWT sent as {@code Authorization: Bearer}. Give this or {@link #tokenSupplier}. */
        public Builder token(String token) { this.token = token; return this; }

        /** Called before every request for a JWT (cache in it if minting is costly). */
        public Builder tokenSupplier(Supplier<String> tokenSupplier) { this.tokenSupplier = tokenSupplier; return this; }

        /** The OkHttp client to use (timeouts, proxies, TLS); by default a new one. */
        public Builder httpClient(OkHttpClient http) { this.http = http; return this; }

        /** Attempts in all for a 429/503 with Retry-After, the first included (default 3; 1 turns retries off). */
        public Builder maxAttempts(int maxAttempts) { this.maxAttempts = maxAttempts; return this; }

        /** A Retry-After longer than this is not waited for (default 30 000 ms). */
        public Builder maxWaitMs(long maxWaitMs) { this.maxWaitMs = maxWaitMs; return this; }

        /** Where the {@code ...Async} methods run (default: daemon threads owned by the PgwApi). */
        public Builder executor(Executor executor) { this.executor = executor; return this; }

        Builder random(Random random) { this.random = random; return this; }

        Builder sleeper(Sleeper sleeper) { this.sleeper = sleeper; return this; }

        /** Checks the options and makes the client. */
        public PgwApi build() {
            String m = "createApi";
            if (baseUrl == null || baseUrl.isEmpty()) {
                throw Validate.fail(m, "baseUrl", "is required: the gateway's http:// or https:// URL (got " + Validate.describe(baseUrl) + ")");
            }
            parsedBase = (baseUrl.startsWith("http://") || baseUrl.startsWith("https://")) ? HttpUrl.parse(baseUrl) : null;
            if (parsedBase == null) {
                throw Validate.fail(m, "baseUrl", "must be an http:// or https:// URL (got " + Validate.describe(baseUrl) + ")");
            }
            if (token != null && tokenSupplier != null) throw Validate.fail(m, "token", "and \"getToken\" are exclusive: give one");
            if (token == null && tokenSupplier == null) {
                throw Validate.fail(m, "token", "is required: give token (a JWT) or getToken (tokenSupplier, a function returning one)");
            }
            if (token != null && token.isEmpty()) throw Validate.fail(m, "token", "must be a non-empty string (got \"\")");
            if (maxAttempts < 1) throw Validate.fail(m, "maxAttempts", "must be at least 1 (got number " + maxAttempts + ")");
            if (maxWaitMs < 0) throw Validate.fail(m, "maxWaitMs", "must be 0 or more (got number " + maxWaitMs + ")");
            // Path segments are appended to the base's path: drop a trailing slash.
            List<String> segs = new ArrayList<>(parsedBase.pathSegments());
            HttpUrl.Builder b = parsedBase.newBuilder().encodedPath("/");
            for (String s : segs) if (!s.isEmpty()) b.addPathSegment(s);
            parsedBase = b.build();
            return new PgwApi(this);
        }
    }
}
