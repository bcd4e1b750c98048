package io.github.pgw.client;

/** The CALL object (contract §3.2). */
public final class Call {
    private String id;
    private String state;
    private String direction;
    private String peer;
    private String since;
    private String reason;

    Call() {}

    /** The call id. */
    public String getId() { return id; }
    /** {@code ringing}, {@code in_call}, {@code held} or {@code ended}. */
    public String getState() { return state; }
    /** {@code inbound}, {@code outbound}, or null. */
    public String getDirection() { return direction; }
    /** The other party's number, or null. */
    public String getPeer() { return peer; }
    /** When the state began (RFC 3339), or null. */
    public String getSince() { return since; }
    /** Only when ended: {@code hangup}, {@code resync}, ... */
    public String getReason() { return reason; }
}
