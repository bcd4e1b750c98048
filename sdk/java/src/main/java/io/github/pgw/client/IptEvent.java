package io.github.pgw.client;

/**
 * One telephony event ({@code ipt.event} without {@code type}), for {@link PgwApi#postIptEvents}
 * and {@link PgwBridge#event}. Build with {@link #of(String, String)} and the fluent setters.
 */
public final class IptEvent {
    private String bridge;
    private Long seq;
    private String ext;
    private String user;
    private String event;
    private String call;
    private String direction;
    private String peer;
    private String at;

    private IptEvent() {}

    /** An event of {@code ext}: {@code registered}, {@code unregistered}, {@code ringing}, {@code answered}, {@code held}, {@code resumed}, {@code ended}. */
    public static IptEvent of(String ext, String event) {
        IptEvent e = new IptEvent();
        e.ext = ext;
        e.event = event;
        return e;
    }

    /** The sequence number (from 1, increasing); {@link PgwBridge} sets it itself. */
    public IptEvent seq(long seq) { this.seq = seq; return this; }
    /** The bridge id (optional in a batch: the batch's). */
    public IptEvent bridge(String bridge) { this.bridge = bridge; return this; }
    /** The user who owns {@code ext} (needed the first time the gateway hears of it). */
    public IptEvent user(String user) { this.user = user; return this; }
    /** The call id (required with {@code ringing}). */
    public IptEvent call(String call) { this.call = call; return this; }
    /** {@code inbound} or {@code outbound}. */
    public IptEvent direction(String direction) { this.direction = direction; return this; }
    /** The other party's number. */
    public IptEvent peer(String peer) { this.peer = peer; return this; }
    /** When it happened, RFC 3339. */
    public IptEvent at(String at) { this.at = at; return this; }

    /** The sequence number, or null when not set. */
    public Long getSeq() { return seq; }
    /** The extension. */
    public String getExt() { return ext; }
    /** The event name. */
    public String getEvent() { return event; }
    /** The bridge, or null. */
    public String getBridge() { return bridge; }
    /** The user, or null. */
    public String getUser() { return user; }
    /** The call id, or null. */
    public String getCall() { return call; }
    /** The direction, or null. */
    public String getDirection() { return direction; }
    /** The peer, or null. */
    public String getPeer() { return peer; }
    /** The time, or null. */
    public String getAt() { return at; }

    IptEvent copy() { return Json.GSON.fromJson(Json.GSON.toJson(this), IptEvent.class); }
}
