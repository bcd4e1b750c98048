package io.github.pgw.client;

import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * The PRESENCE object (contract §3.2): the same JSON in {@code presence} frames, HTTP answers and
 * NATS messages. Immutable; made by the SDK from the gateway's JSON.
 */
public final class Presence {
    private String type;
    private String tenant;
    private String user;
    private String status;
    private String custom;
    private String note;
    private boolean manual;
    private int sessions;
    private List<String> devices;
    private Phone phone;
    private long version;
    private String since;

    Presence() {}

    /** Always {@code presence}. */
    public String getType() { return type; }
    /** The tenant id. */
    public String getTenant() { return tenant; }
    /** The user id. */
    public String getUser() { return user; }
    /** {@code online}, {@code away}, {@code busy}, {@code dnd} or {@code offline}. */
    public String getStatus() { return status; }
    /** The tenant's custom status name (contract §9), or null; {@link #getStatus()} is then its base. */
    public String getCustom() { return custom; }
    /** The status note, or null. */
    public String getNote() { return note; }
    /** Whether the status is one the user set (not computed). */
    public boolean isManual() { return manual; }
    /** Live sessions (bridge sessions are never counted). */
    public int getSessions() { return sessions; }
    /** The kinds of device of the live sessions. */
    public List<String> getDevices() { return devices == null ? Collections.<String>emptyList() : Collections.unmodifiableList(devices); }
    /** The telephony overlay, or null for a user who owns no extension. */
    public Phone getPhone() { return phone; }
    /** Increases on every change of this user's presence; 0 for a user never seen. */
    public long getVersion() { return version; }
    /** When the status began (RFC 3339), or null. */
    public String getSince() { return since; }

    /** The object as the gateway's JSON. */
    public String toJson() { return Json.GSON.toJson(this); }

    @Override
    public String toString() { return toJson(); }

    @Override
    public boolean equals(Object o) {
        return o instanceof Presence && toJson().equals(((Presence) o).toJson());
    }

    @Override
    public int hashCode() { return Objects.hash(tenant, user, version); }

    /** The same presence shown offline (no sessions, devices or note): what a view shows when the user left. */
    Presence asOffline() {
        Presence p = Json.GSON.fromJson(toJson(), Presence.class);
        p.status = "offline";
        p.custom = null;
        p.note = null;
        p.manual = false;
        p.sessions = 0;
        p.devices = Collections.emptyList();
        return p;
    }
}
