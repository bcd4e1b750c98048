package io.github.pgw.client;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Reads the shared conformance vectors of sdk/conformance (the TypeScript SDK's tests read them too). */
final class Vectors {
    private Vectors() {}

    static Path dir() {
        Path p = Paths.get("").toAbsolutePath();
        for (int i = 0; i < 5 && p != null; i++, p = p.getParent()) {
            Path c = p.resolve("sdk/conformance");
            if (Files.isDirectory(c)) return c;
            c = p.resolve("../conformance").normalize();
            if (Files.isDirectory(c) && Files.exists(c.resolve("http.json"))) return c;
        }
        throw new IllegalStateException("sdk/conformance not found from " + Paths.get("").toAbsolutePath());
    }

    static JsonObject read(String name) {
        try {
            return JsonParser.parseString(new String(Files.readAllBytes(dir().resolve(name)), StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<JsonObject> cases(JsonObject file, String member) {
        List<JsonObject> out = new ArrayList<>();
        for (JsonElement e : file.getAsJsonArray(member)) out.add(e.getAsJsonObject());
        return out;
    }

    /** Expands the vectors' shorthands: {"count":N} is N user ids, {"repeat":S,"count":N} S repeated N times. */
    static JsonElement expand(JsonElement v) {
        if (v.isJsonArray()) {
            JsonArray a = new JsonArray();
            for (JsonElement x : v.getAsJsonArray()) a.add(expand(x));
            return a;
        }
        if (v.isJsonObject()) {
            JsonObject o = v.getAsJsonObject();
            if (o.size() == 1 && o.has("count")) {
                JsonArray a = new JsonArray();
                for (int i = 0; i < o.get("count").getAsInt(); i++) a.add("u" + i);
                return a;
            }
            if (o.size() == 2 && o.has("repeat") && o.has("count")) {
                StringBuilder b = new StringBuilder();
                for (int i = 0; i < o.get("count").getAsInt(); i++) b.append(o.get("repeat").getAsString());
                return new JsonPrimitive(b.toString());
            }
            JsonObject out = new JsonObject();
            for (Map.Entry<String, JsonElement> e : o.entrySet()) out.add(e.getKey(), expand(e.getValue()));
            return out;
        }
        return v;
    }

    static String str(JsonObject o, String k) {
        JsonElement e = o.get(k);
        return e == null || e instanceof JsonNull ? null : e.getAsString();
    }

    static List<String> strings(JsonObject o, String k) {
        JsonElement e = o.get(k);
        if (e == null || e.isJsonNull()) return null;
        List<String> out = new ArrayList<>();
        for (JsonElement x : e.getAsJsonArray()) out.add(x.isJsonNull() ? null : x.getAsString());
        return out;
    }

    static <T> List<T> list(JsonObject o, String k, Class<T> type) {
        JsonElement e = o.get(k);
        if (e == null || e.isJsonNull()) return null;
        List<T> out = new ArrayList<>();
        for (JsonElement x : e.getAsJsonArray()) out.add(x.isJsonNull() ? null : Json.GSON.fromJson(x, type));
        return out;
    }

    /** Calls the PgwApi method of a vector's operation with its named arguments. */
    static Object invoke(PgwApi api, String op, JsonObject a) {
        switch (op) {
            case "getPresence":
                return api.getPresence(str(a, "user"));
            case "queryPresence":
                return api.queryPresence(strings(a, "users"));
            case "setStatus":
                return api.setStatus(str(a, "user"), str(a, "status"), str(a, "note"));
            case "deleteSession":
                api.deleteSession(str(a, "session"));
                return null;
            case "postIPTEvents":
                return api.postIptEvents(str(a, "bridge"), list(a, "events", IptEvent.class));
            case "postIPTSync":
                return api.postIptSync(str(a, "bridge"), list(a, "devices", SyncDevice.class));
            case "getTenant":
                return api.getTenant(str(a, "tenant"));
            case "putTenant":
                return api.putTenant(str(a, "tenant"), a.get("policy") == null || a.get("policy").isJsonNull() ? null : a.getAsJsonObject("policy"), str(a, "ifMatch"));
            case "getTenantHistory":
                return api.getTenantHistory(str(a, "tenant"));
            default:
                throw new IllegalArgumentException("no Java method for operation " + op);
        }
    }
}
