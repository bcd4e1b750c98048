package io.github.pgw.client;

import com.google.gson.JsonObject;

/**
 * A problem the HTTP API answered (any non-2xx status). {@link #getRetryAfter()} is the
 * {@code Retry-After} of the answer in seconds, when it had one. A body that is not a problem (a
 * proxy's error page) gives the code {@code http_<status>}.
 */
public class PgwApiException extends PgwException {
    private static final long serialVersionUID = 1L;

    private final Integer retryAfter;

    /** Makes one from a problem and the answer's Retry-After (null when none). */
    public PgwApiException(JsonObject problem, Integer retryAfter) {
        super(problem);
        this.retryAfter = retryAfter;
    }

    /** Seconds to wait before retrying (429, 503), or null when the answer did not say. */
    public Integer getRetryAfter() { return retryAfter; }

    /** The request path the problem is about, when the gateway named it. */
    public String getInstance() { return stringOf(getProblem(), "instance"); }
}
