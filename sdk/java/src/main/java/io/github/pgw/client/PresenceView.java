package io.github.pgw.client;

import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A live map of user → PRESENCE for what one {@link PgwClient#subscribe} asked for. The client keeps
 * it current across reconnects: it re-subscribes and takes the new reply as the starting point
 * (contract §3.2 v1.1), then ignores any presence whose version is not above the one it holds.
 *
 * <p>Reads are safe from any thread; changes happen, and {@link ChangeListener}s run, on the
 * client's event thread.
 */
public final class PresenceView implements AutoCloseable {
    /** Told of each change of a view. */
    public interface ChangeListener {
        /** {@code user}'s presence is now {@code presence}; {@code previous} is null the first time. */
        void onChange(String user, Presence presence, Presence previous);
    }

    private final PgwClient owner;
    private final Set<String> users;
    private volatile boolean tenant;
    private volatile boolean closed;
    private final Map<String, Presence> map = new ConcurrentHashMap<>();
    private final List<ChangeListener> listeners = new CopyOnWriteArrayList<>();

    PresenceView(PgwClient owner, List<String> users, boolean tenant) {
        this.owner = owner;
        this.users = Collections.newSetFromMap(new ConcurrentHashMap<String, Boolean>());
        this.users.addAll(users);
        this.tenant = tenant;
    }

    /** The presence of {@code user}, or null when the view has not seen it. */
    public Presence get(String user) { return map.get(user); }

    /** Whether the view holds {@code user}. */
    public boolean has(String user) { return map.containsKey(user); }

    /** How many users the view holds. */
    public int size() { return map.size(); }

    /** A copy of the map. */
    public Map<String, Presence> asMap() { return Collections.unmodifiableMap(new LinkedHashMap<>(map)); }

    /** The users the view watches by name (empty for a tenant-only view). */
    public Set<String> getUsers() { return Collections.unmodifiableSet(new HashSet<>(users)); }

    /** Whether the view watches every user of the tenant. */
    public boolean isTenant() { return tenant; }

    /** Whether the view was closed. */
    public boolean isClosed() { return closed; }

    /** Adds a change listener (runs on the client's event thread). */
    public PresenceView addListener(ChangeListener l) {
        listeners.add(l);
        return this;
    }

    /** Removes a change listener. */
    public void removeListener(ChangeListener l) { listeners.remove(l); }

    /** Stops updates and unsubscribes from what no other view still watches. */
    public CompletableFuture<Void> closeAsync() {
        if (closed) return CompletableFuture.completedFuture(null);
        closed = true;
        return owner.releaseView(this);
    }

    /** {@link #closeAsync()} without waiting. */
    @Override
    public void close() { closeAsync(); }

    // ---- the client's side (event thread) -------------------------------------------------------

    boolean watches(String user) { return !closed && (tenant || users.contains(user)); }

    void put(Presence p) {
        if (!watches(p.getUser())) return;
        Presence previous = map.put(p.getUser(), p);
        if (previous == p) return;
        for (ChangeListener l : listeners) {
            try {
                l.onChange(p.getUser(), p, previous);
            } catch (RuntimeException e) {
                owner.listenerFailed(e);
            }
        }
    }

    void drop(Iterable<String> gone) {
        for (String u : gone) {
            users.remove(u);
            map.remove(u);
        }
    }

    void dropTenant() {
        if (!tenant) return;
        tenant = false;
        map.keySet().removeIf(u -> !users.contains(u));
    }

    Set<String> held() { return new HashSet<>(map.keySet()); }

    Set<String> namedUsers() { return new HashSet<>(users); }
}
