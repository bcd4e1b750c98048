package io.github.pgw.client;

/** One {@code errors[]} entry of a problem: which field, and why. */
public final class FieldError {
    private String field;
    private String reason;

    FieldError() {}

    /** Makes one (for tests and callers that build problems). */
    public FieldError(String field, String reason) {
        this.field = field;
        this.reason = reason;
    }

    /** The member's path, e.g. {@code users[2]} or {@code events[3].seq}. */
    public String getField() { return field == null ? "" : field; }

    /** Why it is bad. */
    public String getReason() { return reason == null ? "" : reason; }

    @Override
    public String toString() { return getField() + ": " + getReason(); }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof FieldError)) return false;
        FieldError f = (FieldError) o;
        return getField().equals(f.getField()) && getReason().equals(f.getReason());
    }

    @Override
    public int hashCode() { return getField().hashCode() * 31 + getReason().hashCode(); }
}
