package io.github.pgw.client;

/** The connection state of a {@link PgwClient}. */
public enum ConnectionState {
    /** Connecting for the first time. */
    CONNECTING,
    /** Welcomed: requests go out at once. */
    OPEN,
    /** Lost, waiting to reconnect (requests wait). */
    RECONNECTING,
    /** Closed for good. */
    CLOSED
}
