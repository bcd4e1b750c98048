package io.github.pgw.client;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A problem the gateway reported (RFC 9457): an {@code error} frame on the WebSocket, or the refused
 * hello before a 4401/4403 close. {@link PgwApiException} is the HTTP API's.
 */
public class PgwException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int status;
    private final String code;
    private final String detail;
    private final String title;
    private final String type;
    private final List<FieldError> errors;
    private final transient JsonObject problem;

    /** Makes one from a problem object as received. */
    public PgwException(JsonObject problem) {
        this(problem, message(problem));
    }

    PgwException(JsonObject problem, String message) {
        super(message);
        this.problem = problem == null ? new JsonObject() : problem;
        this.status = intOf(this.problem, "status");
        String c = stringOf(this.problem, "code");
        this.code = c.isEmpty() ? "unknown" : c;
        this.detail = stringOf(this.problem, "detail");
        this.title = stringOf(this.problem, "title");
        String t = stringOf(this.problem, "type");
        this.type = t.isEmpty() ? "about:blank" : t;
        List<FieldError> list = new ArrayList<>();
        JsonElement e = this.problem.get("errors");
        if (e != null && e.isJsonArray()) {
            for (JsonElement x : (JsonArray) e) {
                if (x.isJsonObject()) {
                    list.add(new FieldError(stringOf(x.getAsJsonObject(), "field"), stringOf(x.getAsJsonObject(), "reason")));
                }
            }
        }
        this.errors = Collections.unmodifiableList(list);
    }

    private static String message(JsonObject p) {
        String code = stringOf(p, "code");
        if (code.isEmpty()) code = "unknown";
        String detail = stringOf(p, "detail");
        return detail.isEmpty() ? code : code + ": " + detail;
    }

    static String stringOf(JsonObject o, String k) {
        if (o == null) return "";
        JsonElement e = o.get(k);
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isString() ? e.getAsString() : "";
    }

    static int intOf(JsonObject o, String k) {
        if (o == null) return 0;
        JsonElement e = o.get(k);
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber() ? e.getAsInt() : 0;
    }

    /** The HTTP status that fits: 400 bad input, 401 auth, 403, 404, 409, 413, 429, 503. */
    public int getStatus() { return status; }

    /** The stable machine-readable code, e.g. {@code invalid_argument}, {@code token_expired}. */
    public String getCode() { return code; }

    /** The cause, naming the field; for people, it may change. */
    public String getDetail() { return detail; }

    /** The title, fixed per code. */
    public String getTitle() { return title; }

    /** The problem type URI, {@code about:blank} when none. */
    public String getType() { return type; }

    /** One entry per bad field (empty when none). */
    public List<FieldError> getErrors() { return errors; }

    /** The problem exactly as received (a copy). */
    public JsonObject getProblem() { return problem.deepCopy(); }
}
