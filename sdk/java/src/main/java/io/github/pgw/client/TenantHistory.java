package io.github.pgw.client;

import com.google.gson.JsonElement;
import java.util.Collections;
import java.util.List;

/** The changes of a tenant's policy, newest first ({@link PgwApi#getTenantHistory}). */
public final class TenantHistory {
    private String tenant;
    private List<Change> changes;

    TenantHistory() {}

    /** The tenant. */
    public String getTenant() { return tenant; }

    /** The changes, newest first. */
    public List<Change> getChanges() { return changes == null ? Collections.<Change>emptyList() : Collections.unmodifiableList(changes); }

    /** One change: who, when, the version it made, and each field from what to what. */
    public static final class Change {
        private String who;
        private String when;
        private long version;
        private List<FieldChange> fields;

        Change() {}

        /** The token's {@code sub}, or {@code PGW_TENANTS} for the file loaded at start. */
        public String getWho() { return who; }
        /** When (RFC 3339). */
        public String getWhen() { return when; }
        /** The version the change made. */
        public long getVersion() { return version; }
        /** The fields that changed. */
        public List<FieldChange> getFields() { return fields == null ? Collections.<FieldChange>emptyList() : Collections.unmodifiableList(fields); }
    }

    /** One field of a change. */
    public static final class FieldChange {
        private String field;
        private JsonElement from;
        private JsonElement to;

        FieldChange() {}

        /** The field's path, e.g. {@code statuses} or {@code limits.subscriptions}. */
        public String getField() { return field; }
        /** The old value, or null when it was unset. */
        public JsonElement getFrom() { return from; }
        /** The new value, or null when it was removed. */
        public JsonElement getTo() { return to; }
    }
}
