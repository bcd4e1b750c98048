package io.github.pgw.client;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import okhttp3.Response;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;

/**
 * A scripted gateway on a real loopback WebSocket (MockWebServer): the test reads the frames the
 * client sent and plays the server's side. Each accepted connection is one {@link Conn}.
 */
final class FakeGateway implements AutoCloseable {
    final MockWebServer server = new MockWebServer();
    final BlockingQueue<Conn> conns = new LinkedBlockingQueue<>();

    /** One server-side connection. */
    static final class Conn {
        final BlockingQueue<JsonObject> frames = new LinkedBlockingQueue<>();
        volatile WebSocket socket;

        /** The next frame the client sent; fails after 10 s. */
        JsonObject next() throws InterruptedException {
            JsonObject f = frames.poll(10, TimeUnit.SECONDS);
            if (f == null) throw new AssertionError("no frame from the client within 10 s");
            return f;
        }

        /** The next frame of {@code type}, skipping others. */
        JsonObject next(String type) throws InterruptedException {
            for (;;) {
                JsonObject f = next();
                if (type.equals(f.get("type").getAsString())) return f;
            }
        }

        void send(JsonObject frame) { socket.send(frame.toString()); }

        void send(String json) { socket.send(json); }

        /** Answers {@code request} with ok and the given fields. */
        void ok(JsonObject request, JsonObject fields) {
            JsonObject f = fields == null ? new JsonObject() : fields.deepCopy();
            f.addProperty("type", "ok");
            f.add("id", request.get("id"));
            send(f);
        }

        /** Reads the hello and answers welcome. */
        JsonObject welcome(String session) throws InterruptedException {
            JsonObject hello = next("hello");
            JsonObject w = JsonParser.parseString("{\"type\":\"welcome\",\"conn\":\"c1\",\"user\":\"u1\",\"tenant\":\"acme\",\"node\":\"n1\",\"heartbeat\":25000,"
                    + "\"presence\":{\"type\":\"presence\",\"tenant\":\"acme\",\"user\":\"u1\",\"status\":\"online\",\"manual\":false,\"sessions\":1,\"devices\":[\"desktop\"],\"version\":1}}").getAsJsonObject();
            w.add("id", hello.get("id"));
            w.addProperty("session", hello.has("session") ? hello.get("session").getAsString() : session);
            w.addProperty("expires", System.currentTimeMillis() / 1000 + 3600);
            send(w);
            return hello;
        }

        void close(int code, String reason) { socket.close(code, reason); }
    }

    FakeGateway() throws IOException {
        server.start();
    }

    /** Accepts the next WebSocket connection. */
    void accept() {
        Conn c = new Conn();
        server.enqueue(new MockResponse().withWebSocketUpgrade(new WebSocketListener() {
            @Override
            public void onOpen(WebSocket ws, Response response) {
                c.socket = ws;
                conns.add(c);
            }

            @Override
            public void onMessage(WebSocket ws, String text) {
                c.frames.add(JsonParser.parseString(text).getAsJsonObject());
            }

            @Override
            public void onClosing(WebSocket ws, int code, String reason) {
                ws.close(code, null);
            }
        }));
    }

    /** The next connection the client opened; fails after 10 s. */
    Conn conn() throws InterruptedException {
        Conn c = conns.poll(10, TimeUnit.SECONDS);
        if (c == null) throw new AssertionError("the client did not connect within 10 s");
        return c;
    }

    String url() {
        return server.url("/v1/ws").toString().replaceFirst("^http", "ws");
    }

    @Override
    public void close() throws IOException {
        server.shutdown();
    }
}
