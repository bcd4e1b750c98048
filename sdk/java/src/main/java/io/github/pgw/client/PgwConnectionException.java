package io.github.pgw.client;

/**
 * A WebSocket request that could not be answered: the client closed for good ({@link Kind#CLOSED}),
 * the connection dropped before the reply of a request that is not re-sent ({@link Kind#LOST}:
 * refresh, logout, frames sent with {@link PgwClient#request}), or no reply came in time
 * ({@link Kind#TIMEOUT}).
 */
public class PgwConnectionException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Why it happened. */
    public enum Kind {
        /** The client is closed for good. */
        CLOSED,
        /** The connection dropped before the reply. */
        LOST,
        /** No reply within the request timeout. */
        TIMEOUT
    }

    private final Kind kind;
    private final int closeCode;
    private final String reason;

    PgwConnectionException(Kind kind, String message, int closeCode, String reason) {
        super(message);
        this.kind = kind;
        this.closeCode = closeCode;
        this.reason = reason == null ? "" : reason;
    }

    /** Why. */
    public Kind getKind() { return kind; }

    /** The WebSocket close code that ended the client, 0 when none did. */
    public int getCloseCode() { return closeCode; }

    /** The close reason (a problem code), empty when none. */
    public String getReason() { return reason; }
}
