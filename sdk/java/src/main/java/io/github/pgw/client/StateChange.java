package io.github.pgw.client;

/** One change of a {@link PgwClient}'s connection state, given to {@link PgwListener#onState}. */
public final class StateChange {
    private final ConnectionState state;
    private final ConnectionState previous;
    private final int code;
    private final String reason;
    private final long delayMs;
    private final int attempt;
    private final Throwable error;

    StateChange(ConnectionState state, ConnectionState previous, int code, String reason, long delayMs, int attempt, Throwable error) {
        this.state = state;
        this.previous = previous;
        this.code = code;
        this.reason = reason == null ? "" : reason;
        this.delayMs = delayMs;
        this.attempt = attempt;
        this.error = error;
    }

    /** The state now. */
    public ConnectionState getState() { return state; }
    /** The state before. */
    public ConnectionState getPrevious() { return previous; }
    /** The close code that caused the change, 0 when none did. */
    public int getCode() { return code; }
    /** The close reason (a problem code such as {@code shutdown}), empty when none. */
    public String getReason() { return reason; }
    /** For RECONNECTING: ms until the next attempt. */
    public long getDelayMs() { return delayMs; }
    /** For RECONNECTING: failed attempts since the last welcome, from 1. */
    public int getAttempt() { return attempt; }
    /** For CLOSED after a refusal: the server's problem ({@link PgwException}), else null. */
    public Throwable getError() { return error; }

    @Override
    public String toString() {
        return previous + "→" + state + (code != 0 ? " " + code : "") + (reason.isEmpty() ? "" : " " + reason)
                + (state == ConnectionState.RECONNECTING ? " in " + delayMs + " ms (attempt " + attempt + ")" : "");
    }
}
