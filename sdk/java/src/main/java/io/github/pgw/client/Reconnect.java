package io.github.pgw.client;

import java.util.Random;

/**
 * What a client does after a WebSocket close code: the close-code table of the contract (§6),
 * the same rules as sdk/conformance/close-codes.json (generated from the gateway's problem table;
 * the tests hold this enum to it).
 */
public enum Reconnect {
    /** Do not reconnect: the client is closed for good. */
    NO,
    /** The node drains: reconnect at once, spread by a small random jitter. */
    AT_ONCE,
    /** Reconnect after an exponential backoff with full jitter. */
    BACKOFF,
    /** Reconnect only with a new token (from the token supplier); without one, do not. */
    NEW_TOKEN;

    /**
     * The rule for a close code. Codes the table lists follow it exactly; any other code (1005 no
     * status, 1006 connection lost, 1011, a proxy's 1012, ...) is a transport fault, retried with
     * backoff.
     */
    public static Reconnect forCloseCode(int code) {
        switch (code) {
            case 1000: // logged_out, normal close
            case 1003: // binary frame
            case 1007: // invalid UTF-8
            case 1009: // frame too large
            case 4400: // protocol violation
            case 4403: // forbidden, tenant_disabled
                return NO;
            case 1001: // shutdown (drain)
                return AT_ONCE;
            case 4401: // token_* and login_*
                return NEW_TOKEN;
            default: // 1008 slow_consumer, 4408, 4429, 4500, and every unlisted code
                return BACKOFF;
        }
    }

    /**
     * Exponential backoff with full jitter: a uniform delay in
     * [0, min(maxDelayMs, initialDelayMs * 2^attempt)); {@code attempt} counts the failures since
     * the last welcome, from 0.
     */
    static long backoffDelay(int attempt, long initialDelayMs, long maxDelayMs, Random random) {
        long window = Math.min(maxDelayMs, initialDelayMs << Math.min(attempt, 30));
        return (long) Math.floor(random.nextDouble() * window);
    }
}
