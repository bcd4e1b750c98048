package io.github.pgw.client;

/** A call in an {@code ipt.sync} device. */
public final class SyncCall {
    private String id;
    private String state;
    private String direction;
    private String peer;
    private String since;

    private SyncCall() {}

    /** A call: {@code state} is {@code ringing}, {@code in_call} or {@code held}. */
    public static SyncCall of(String id, String state) {
        SyncCall c = new SyncCall();
        c.id = id;
        c.state = state;
        return c;
    }

    /** {@code inbound} or {@code outbound}. */
    public SyncCall direction(String direction) { this.direction = direction; return this; }
    /** The other party's number. */
    public SyncCall peer(String peer) { this.peer = peer; return this; }
    /** When the call's state began, RFC 3339. */
    public SyncCall since(String since) { this.since = since; return this; }

    /** The call id. */
    public String getId() { return id; }
    /** The state. */
    public String getState() { return state; }
    /** The direction, or null. */
    public String getDirection() { return direction; }
    /** The peer, or null. */
    public String getPeer() { return peer; }
    /** The since time, or null. */
    public String getSince() { return since; }
}
