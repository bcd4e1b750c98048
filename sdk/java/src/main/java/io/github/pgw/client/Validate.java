package io.github.pgw.client;

import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The argument checks, with the same rules and messages as the TypeScript SDK (both are held to
 * sdk/conformance/validation.json): the message names the method, the argument in quotes, the rule
 * and the bad value.
 */
final class Validate {
    /** The contract's identifier rule (§2) for tenant, user, session and bridge ids. */
    static final Pattern ID = Pattern.compile("^[A-Za-z0-9_-]{1,128}$");
    /** An extension (dial string). */
    static final Pattern EXT = Pattern.compile("^[A-Za-z0-9_+#*.@-]{1,64}$");
    static final int MAX_NOTE = 140;
    static final int MAX_TEXT = 128;
    static final int MAX_USERS = 1000;
    static final int MAX_ITEMS = 1000;
    static final List<String> EVENTS = Arrays.asList("registered", "unregistered", "ringing", "answered", "held", "resumed", "ended");
    static final List<String> DIRECTIONS = Arrays.asList("inbound", "outbound");
    static final List<String> DEVICE_STATES = Arrays.asList("registered", "unregistered");
    static final List<String> SYNC_CALL_STATES = Arrays.asList("ringing", "in_call", "held");
    static final List<String> DEVICES = Arrays.asList("desktop", "web", "mobile", "bridge");
    static final List<String> WINDOWS = Arrays.asList("main", "child");

    private Validate() {}

    /** How a bad value reads in a message: strings quoted (cut after 40 characters), null as null. */
    static String describe(Object v) {
        if (v == null) return "null";
        if (v instanceof String) {
            String s = (String) v;
            if (s.codePointCount(0, s.length()) > 40) s = s.substring(0, s.offsetByCodePoints(0, 40)) + "…";
            return Json.GSON.toJson(s);
        }
        if (v instanceof Collection || v.getClass().isArray()) return "an array";
        if (v instanceof Number) return "number " + v;
        if (v instanceof Boolean) return "boolean " + v;
        return "an object";
    }

    static PgwArgumentException fail(String method, String argument, String reason) {
        return new PgwArgumentException(method, argument, reason);
    }

    static void id(String method, String argument, String v) {
        if (v == null || !ID.matcher(v).matches()) {
            throw fail(method, argument, "must be 1-128 characters of A-Z a-z 0-9 _ - (got " + describe(v) + ")");
        }
    }

    static void oneOf(String method, String argument, String v, List<String> allowed) {
        if (v == null || !allowed.contains(v)) {
            throw fail(method, argument, "must be one of " + String.join(", ", allowed) + " (got " + describe(v) + ")");
        }
    }

    static void ext(String method, String argument, String v) {
        if (v == null || !EXT.matcher(v).matches()) {
            throw fail(method, argument, "must be 1-64 characters of A-Z a-z 0-9 _ + # * . @ - (got " + describe(v) + ")");
        }
    }

    static void text(String method, String argument, String v, boolean required) {
        if (v == null && !required) return;
        if (v == null || v.isEmpty() || v.codePointCount(0, v.length()) > MAX_TEXT) {
            throw fail(method, argument, "must be a string of 1-" + MAX_TEXT + " characters (got " + describe(v) + ")");
        }
    }

    /** A status to set: a built-in one or a custom one of the tenant (§9); never offline. */
    static void statusName(String method, String v) {
        if ("offline".equals(v)) {
            throw fail(method, "status", "cannot be \"offline\": offline is computed, never set");
        }
        if (v == null || !ID.matcher(v).matches()) {
            throw fail(method, "status", "must be online, away, busy, dnd or a custom status of the tenant (1-128 characters of A-Z a-z 0-9 _ -) (got " + describe(v) + ")");
        }
    }

    static void note(String method, String note) {
        if (note == null) return;
        int n = note.codePointCount(0, note.length());
        if (n > MAX_NOTE) throw fail(method, "note", "must be at most " + MAX_NOTE + " characters (got " + n + ")");
    }

    static void users(String method, List<String> users) {
        if (users == null) throw fail(method, "users", "must be an array of user ids (got null)");
        if (users.isEmpty()) throw fail(method, "users", "must name at least one user (got an empty array)");
        if (users.size() > MAX_USERS) {
            throw fail(method, "users", "must hold at most " + MAX_USERS + " user ids (got " + users.size() + ")");
        }
        for (int i = 0; i < users.size(); i++) id(method, "users[" + i + "]", users.get(i));
    }

    static void list(String method, String argument, List<?> v) {
        if (v == null) throw fail(method, argument, "must be an array (got null)");
        if (v.size() > MAX_ITEMS) throw fail(method, argument, "must hold at most " + MAX_ITEMS + " items (got " + v.size() + ")");
    }

    static void events(String method, List<IptEvent> events, boolean needSeq) {
        list(method, "events", events);
        for (int i = 0; i < events.size(); i++) {
            String p = "events[" + i + "]";
            IptEvent e = events.get(i);
            if (e == null) throw fail(method, p, "must be an object (got null)");
            event(method, p, e, needSeq);
        }
    }

    static void event(String method, String p, IptEvent e, boolean needSeq) {
        if (e.getBridge() != null) id(method, p + ".bridge", e.getBridge());
        if (needSeq || e.getSeq() != null) {
            if (e.getSeq() == null || e.getSeq() < 1) {
                throw fail(method, p + ".seq", "must be an integer of at least 1 (got " + describe(e.getSeq()) + ")");
            }
        }
        ext(method, p + ".ext", e.getExt());
        if (e.getUser() != null) id(method, p + ".user", e.getUser());
        oneOf(method, p + ".event", e.getEvent(), EVENTS);
        text(method, p + ".call", e.getCall(), "ringing".equals(e.getEvent()));
        if (e.getDirection() != null) oneOf(method, p + ".direction", e.getDirection(), DIRECTIONS);
        text(method, p + ".peer", e.getPeer(), false);
        if (e.getAt() != null) {
            try {
                java.time.OffsetDateTime.parse(e.getAt());
            } catch (RuntimeException ex) {
                throw fail(method, p + ".at", "must be an RFC 3339 time (got " + describe(e.getAt()) + ")");
            }
        }
    }

    static void devices(String method, List<SyncDevice> devices) {
        list(method, "devices", devices);
        for (int i = 0; i < devices.size(); i++) {
            String p = "devices[" + i + "]";
            SyncDevice d = devices.get(i);
            if (d == null) throw fail(method, p, "must be an object (got null)");
            ext(method, p + ".ext", d.getExt());
            id(method, p + ".user", d.getUser());
            oneOf(method, p + ".state", d.getState(), DEVICE_STATES);
            SyncCall c = d.getCall();
            if (c != null) {
                text(method, p + ".call.id", c.getId(), true);
                oneOf(method, p + ".call.state", c.getState(), SYNC_CALL_STATES);
                if (c.getDirection() != null) oneOf(method, p + ".call.direction", c.getDirection(), DIRECTIONS);
                text(method, p + ".call.peer", c.getPeer(), false);
            }
        }
    }
}
