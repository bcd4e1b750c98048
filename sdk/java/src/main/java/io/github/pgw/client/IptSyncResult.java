package io.github.pgw.client;

/** The answer to {@link PgwApi#postIptSync}. */
public final class IptSyncResult {
    private int devices;

    IptSyncResult() {}

    /** Devices in the snapshot. */
    public int getDevices() { return devices; }
}
