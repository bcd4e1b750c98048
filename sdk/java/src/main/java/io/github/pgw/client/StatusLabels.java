package io.github.pgw.client;

import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The text to show for a presence, by the same rule as the TypeScript SDK's {@code statusLabel}
 * (sdk/typescript/src/labels.ts): the label of its custom status when the tenant lists it (the
 * welcome's {@code statuses}), else the English label of its built-in status, which is the custom
 * status's base, so a status the welcome did not list still shows something right.
 */
public final class StatusLabels {
    /** The English labels of the built-in statuses (the TypeScript SDK's {@code STATUS_LABELS}). */
    public static final Map<String, String> BUILT_IN;

    static {
        Map<String, String> m = new HashMap<>();
        m.put("online", "Online");
        m.put("away", "Away");
        m.put("busy", "Busy");
        m.put("dnd", "Do not disturb");
        m.put("offline", "Offline");
        BUILT_IN = Collections.unmodifiableMap(m);
    }

    private StatusLabels() {}

    /**
     * The text to show for {@code p}; {@code statuses} (may be null) are the tenant's custom
     * statuses, e.g. {@link Welcome#getStatuses()}. {@link PgwClient#label(Presence)} passes the
     * client's last welcome.
     */
    public static String label(Presence p, List<CustomStatus> statuses) {
        if (p.getCustom() != null && !p.getCustom().isEmpty() && statuses != null) {
            for (CustomStatus s : statuses) {
                if (s != null && p.getCustom().equals(s.getName())) return s.getLabel();
            }
        }
        String builtIn = BUILT_IN.get(p.getStatus());
        return builtIn != null ? builtIn : p.getStatus();
    }
}
