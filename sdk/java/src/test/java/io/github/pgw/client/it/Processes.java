package io.github.pgw.client.it;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;

/**
 * The real processes of the integration tests: the gateway binary built from this repository
 * ({@code go build ./cmd/gateway} into target/, once per run, or $PGW_GATEWAY_BIN), and a private
 * redis-server, each on a free port. Everything is stopped by its own process handle.
 */
final class Processes {
    private static Path gatewayBin;
    private static final OkHttpClient HTTP = new OkHttpClient();

    private Processes() {}

    static Path repoRoot() {
        return Paths.get(System.getProperty("pgw.repoRoot", "../..")).toAbsolutePath().normalize();
    }

    static Path buildDir() {
        return Paths.get(System.getProperty("pgw.buildDir", "target")).toAbsolutePath();
    }

    static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Polls until check holds; fails after timeoutMs (a deadline, not a sleep). */
    static void waitFor(String what, long timeoutMs, BooleanSupplier check) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!check.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out after " + timeoutMs + " ms waiting for " + what);
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for " + what);
            }
        }
    }

    static synchronized Path gateway() throws IOException, InterruptedException {
        if (gatewayBin != null) return gatewayBin;
        String given = System.getenv("PGW_GATEWAY_BIN");
        if (given != null && !given.isEmpty()) {
            gatewayBin = Paths.get(given);
            return gatewayBin;
        }
        Path out = buildDir().resolve("gateway");
        Process p = new ProcessBuilder("go", "build", "-o", out.toString(), "./cmd/gateway")
                .directory(repoRoot().toFile()).redirectErrorStream(true)
                .redirectOutput(buildDir().resolve("go-build.log").toFile()).start();
        if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new IOException("go build ./cmd/gateway failed: " + new String(Files.readAllBytes(buildDir().resolve("go-build.log")), StandardCharsets.UTF_8));
        }
        gatewayBin = out;
        return out;
    }

    /** An HS256 JWT made with javax.crypto (no JWT library). */
    static String token(String secret, String sub, String tenant, long ttlSeconds, String... roles) {
        long now = System.currentTimeMillis() / 1000;
        StringBuilder claims = new StringBuilder("{\"sub\":\"" + sub + "\",\"tenant\":\"" + tenant + "\",\"iat\":" + now + ",\"exp\":" + (now + ttlSeconds));
        if (roles.length > 0) {
            claims.append(",\"roles\":[");
            for (int i = 0; i < roles.length; i++) claims.append(i > 0 ? "," : "").append('"').append(roles[i]).append('"');
            claims.append(']');
        }
        claims.append('}');
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        String head = b64.encodeToString("{\"alg\":\"HS256\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8));
        String body = b64.encodeToString(claims.toString().getBytes(StandardCharsets.UTF_8));
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return head + "." + body + "." + b64.encodeToString(mac.doFinal((head + "." + body).getBytes(StandardCharsets.UTF_8)));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** A running gateway node. */
    static final class Gateway implements AutoCloseable {
        final int port;
        final String secret;
        final Process process;
        final Path log;

        private Gateway(int port, String secret, Process process, Path log) {
            this.port = port;
            this.secret = secret;
            this.process = process;
            this.log = log;
        }

        /** Starts a node; env adds settings (PGW_REDIS_URL, PGW_NATS_URL), others are cleared. */
        static Gateway start(String secret, Map<String, String> env) throws Exception {
            Path bin = gateway();
            AssertionError last = null;
            for (int attempt = 0; attempt < 3; attempt++) {
                int port = freePort();
                Path log = Files.createTempFile(buildDir(), "gateway-" + port + "-", ".log");
                List<String> cmd = new ArrayList<>();
                cmd.add(bin.toString());
                for (String a : new String[] {"--addr", "127.0.0.1:" + port, "--jwt-secret", secret, "--grace", "1s", "--drain", "500ms"}) cmd.add(a);
                ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
                pb.environment().keySet().removeIf(k -> k.startsWith("PGW_"));
                pb.environment().putAll(env);
                Gateway g = new Gateway(port, secret, pb.start(), log);
                try {
                    waitFor("gateway on " + port + " to be ready", 30_000, () -> {
                        if (!g.process.isAlive()) return true;
                        return g.ready();
                    });
                    if (!g.process.isAlive()) throw new AssertionError("gateway exited: " + g.output());
                    return g;
                } catch (AssertionError e) {
                    g.close();
                    last = e;
                }
            }
            throw last;
        }

        boolean ready() {
            try (Response r = HTTP.newCall(new Request.Builder().url(httpUrl() + "/readyz").build()).execute()) {
                return r.code() == 200;
            } catch (IOException e) {
                return false;
            }
        }

        String httpUrl() { return "http://127.0.0.1:" + port; }

        String wsUrl() { return "ws://127.0.0.1:" + port + "/v1/ws"; }

        String token(String sub, String tenant, String... roles) { return Processes.token(secret, sub, tenant, 3600, roles); }

        String output() {
            try {
                return new String(Files.readAllBytes(log), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "(no log: " + e + ")";
            }
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy(); // SIGTERM: the node drains and exits
            if (!process.waitFor(15, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
    }

    /** A private redis-server on a free port, nothing saved. */
    static final class Redis implements AutoCloseable {
        final int port;
        final Process process;

        private Redis(int port, Process process) {
            this.port = port;
            this.process = process;
        }

        static Redis start() throws Exception {
            String bin = findOnPath("redis-server");
            int port = freePort();
            Path log = Files.createTempFile(buildDir(), "redis-" + port + "-", ".log");
            Process p = new ProcessBuilder(bin, "--port", String.valueOf(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            Redis r = new Redis(port, p);
            waitFor("redis-server on " + port, 15_000, () -> {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 500);
                    s.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
                    byte[] buf = new byte[7];
                    int n = s.getInputStream().read(buf);
                    return n > 0 && new String(buf, 0, n, StandardCharsets.US_ASCII).startsWith("+PONG");
                } catch (IOException e) {
                    return false;
                }
            });
            return r;
        }

        String url() { return "redis://127.0.0.1:" + port + "/0"; }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
    }

    private static Path natsBin;

    /** nats-server: $NATS_SERVER, or built from the module's pinned github.com/nats-io/nats-server/v2 into target/ (as make cluster does). */
    static synchronized Path natsServer() throws IOException, InterruptedException {
        if (natsBin != null) return natsBin;
        String given = System.getenv("NATS_SERVER");
        if (given != null && !given.isEmpty()) {
            natsBin = Paths.get(given);
            return natsBin;
        }
        Path out = buildDir().resolve("nats-server");
        Path log = buildDir().resolve("go-build-nats.log");
        Process p = new ProcessBuilder("go", "build", "-o", out.toString(), "github.com/nats-io/nats-server/v2")
                .directory(repoRoot().toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new IOException("go build nats-server failed: " + new String(Files.readAllBytes(log), StandardCharsets.UTF_8));
        }
        natsBin = out;
        return out;
    }

    /** A private nats-server on a free port of 127.0.0.1. */
    static final class Nats implements AutoCloseable {
        final int port;
        final Process process;

        private Nats(int port, Process process) {
            this.port = port;
            this.process = process;
        }

        static Nats start() throws Exception {
            String bin = natsServer().toString();
            int port = freePort();
            Path log = Files.createTempFile(buildDir(), "nats-" + port + "-", ".log");
            Process p = new ProcessBuilder(bin, "-a", "127.0.0.1", "-p", String.valueOf(port))
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            Nats n = new Nats(port, p);
            waitFor("nats-server on " + port, 15_000, () -> {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 500);
                    byte[] buf = new byte[4];
                    int got = s.getInputStream().read(buf);
                    return got == 4 && new String(buf, StandardCharsets.US_ASCII).equals("INFO");
                } catch (IOException e) {
                    return false;
                }
            });
            return n;
        }

        String url() { return "nats://127.0.0.1:" + port; }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
    }

    static String findOnPath(String name) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator)) {
            File f = new File(dir, name);
            if (f.canExecute()) return f.getPath();
        }
        throw new AssertionError(name + " is not installed (scripts/test.sh installs it with apt-get)");
    }
}
