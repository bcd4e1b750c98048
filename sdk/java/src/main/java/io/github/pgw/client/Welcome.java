package io.github.pgw.client;

import java.util.Collections;
import java.util.List;

/** The {@code welcome} frame: the gateway's reply to hello (contract §3.1). */
public final class Welcome {
    private String conn;
    private String session;
    private String user;
    private String tenant;
    private String node;
    private long heartbeat;
    private long expires;
    private Presence presence;
    private List<CustomStatus> statuses;

    Welcome() {}

    /** The connection id. */
    public String getConn() { return conn; }
    /** The session id (the one sent, or one the server made). */
    public String getSession() { return session; }
    /** The user id. */
    public String getUser() { return user; }
    /** The tenant id. */
    public String getTenant() { return tenant; }
    /** The node id. */
    public String getNode() { return node; }
    /** The server's ping period, ms. */
    public long getHeartbeat() { return heartbeat; }
    /** The token's {@code exp}, Unix seconds. */
    public long getExpires() { return expires; }
    /** The caller's own presence. */
    public Presence getPresence() { return presence; }
    /**
     * The tenant's custom statuses (contract §9), empty when it has none: what
     * {@link PgwClient#status} accepts besides the built-in ones, and the labels
     * {@link PgwClient#label(Presence)} shows. Unmodifiable.
     */
    public List<CustomStatus> getStatuses() {
        return statuses == null ? Collections.<CustomStatus>emptyList() : Collections.unmodifiableList(statuses);
    }
}
