package io.github.pgw.client;

import com.google.gson.JsonObject;

/**
 * Callbacks of a {@link PgwClient}. Every method has an empty default: implement what you need.
 *
 * <p><b>Thread:</b> all callbacks of one client, and of its {@link PresenceView}s, run one at a time
 * on that client's own event thread (named {@code pgw-client-N}), in the order things happened. Do
 * not block it: hand long work to your own executor, and never wait on one of the client's futures
 * inside a callback (it completes on this same thread).
 */
public interface PgwListener {
    /** The connection state changed. */
    default void onState(StateChange change) {}

    /** A hello was accepted (the first connect and every reconnect). */
    default void onWelcome(Welcome welcome) {}

    /** A newer presence of a subscribed user (pushes and subscribe snapshots). */
    default void onPresence(Presence presence) {}

    /** A telephony event for one of the user's extensions (the {@code call} frame). */
    default void onCall(JsonObject call) {}

    /** The token expires at {@code expires} (Unix seconds); with a token supplier the client refreshes it itself. */
    default void onExpiring(long expires) {}

    /** The server is about to close the connection, and says why ({@code logged_out}, {@code shutdown}, ...). */
    default void onBye(String reason) {}

    /** A problem with no request to fail: an error frame without id, a failed refresh, the token supplier failing. */
    default void onError(Throwable error) {}
}
