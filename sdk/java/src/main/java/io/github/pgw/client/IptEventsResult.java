package io.github.pgw.client;

/** The answer to {@link PgwApi#postIptEvents}: events applied, and resends ignored. */
public final class IptEventsResult {
    private int accepted;
    private int ignored;

    IptEventsResult() {}

    /** Events applied. */
    public int getAccepted() { return accepted; }
    /** Events whose seq was not above the last accepted one (resends). */
    public int getIgnored() { return ignored; }
}
