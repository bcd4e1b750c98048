package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pgw/pgw/internal/testenv"
	"github.com/pgw/pgw/problem"
)

// The compatibility test of contract §2.1 against a real Spring Boot app
// with spring-session-data-redis (gateway/testdata/spring-login): the app
// logs a user in and keeps pgw.user, pgw.tenant, pgw.roles as session
// attributes — once with the JDK serializer (Spring Session's default),
// once with GenericJackson2JsonRedisSerializer — and the gateway, on the
// same Redis, accepts the app's SESSION cookie, then closes the
// connections 4401 login_revoked when the user logs out of the app.
//
// The app is built once with Maven and cached under
// testdata/spring-login/.cache (gitignored), keyed by a hash of its
// sources; later runs only start it.

const springDir = "testdata/spring-login"

// springJar returns the app's jar, building it when the cache has none for
// the current sources.
func springJar(t *testing.T) string {
	t.Helper()
	_, errJ := exec.LookPath("java")
	mvn, errM := exec.LookPath("mvn")
	if errJ != nil || errM != nil {
		t.Skip("Spring Session compatibility test skipped: Maven and a JDK (17+) are needed; `make test` installs them (apt-get install maven openjdk-17-jdk-headless)")
	}
	h := sha256.New()
	var files []string
	err := filepath.WalkDir(springDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(springDir, p)
		if d.IsDir() && (rel == "target" || rel == ".cache") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (rel == "pom.xml" || strings.HasPrefix(rel, "src"+string(filepath.Separator))) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(f), len(b))
		h.Write(b)
	}
	cache := filepath.Join(springDir, ".cache")
	jar, _ := filepath.Abs(filepath.Join(cache, "spring-login-"+hex.EncodeToString(h.Sum(nil))[:16]+".jar"))
	if _, err := os.Stat(jar); err == nil {
		return jar
	}
	t.Logf("building the Spring app (once per change of its sources): mvn package in %s", springDir)
	cmd := exec.Command(mvn, "-B", "-q", "-DskipTests", "package")
	cmd.Dir = springDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mvn package: %v\n%s", err, out)
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	built, err := os.ReadFile(filepath.Join(springDir, "target", "spring-login.jar"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := jar + ".tmp"
	if err := os.WriteFile(tmp, built, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, jar); err != nil {
		t.Fatal(err)
	}
	return jar
}

// springApp is one running instance of the app.
type springApp struct {
	base string // http://127.0.0.1:port
}

// startSpringApps starts one app per serializer on redisPort, in parallel
// (a JVM start is the slow part), and stops them at the end of the test.
func startSpringApps(t *testing.T, jar string, redisPort int, serializers ...string) map[string]*springApp {
	t.Helper()
	apps := map[string]*springApp{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(serializers))
	for _, ser := range serializers {
		dir := t.TempDir()
		portFile := filepath.Join(dir, "port")
		logFile, err := os.Create(filepath.Join(dir, "app.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx256m", "-jar", jar,
			fmt.Sprintf("--spring.data.redis.port=%d", redisPort), "--spring.data.redis.host=127.0.0.1",
			"--pgw.serializer="+ser, "--pgw.port-file="+portFile, "--spring.jmx.enabled=false")
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			_ = logFile.Close()
			if t.Failed() {
				b, _ := os.ReadFile(logFile.Name())
				t.Logf("spring app (%s) log:\n%s", ser, b)
			}
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A JVM start took close to a minute on a loaded 2-core machine.
			deadline := time.Now().Add(4 * time.Minute)
			for {
				if b, err := os.ReadFile(portFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
					mu.Lock()
					apps[ser] = &springApp{base: "http://127.0.0.1:" + string(bytes.TrimSpace(b))}
					mu.Unlock()
					return
				}
				if cmd.ProcessState != nil || time.Now().After(deadline) {
					errs <- fmt.Errorf("spring app (%s) did not start listening", ser)
					return
				}
				time.Sleep(200 * time.Millisecond) // polling a file the JVM writes; no event to wait on
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return apps
}

// login logs user in through the app and returns the SESSION cookie value.
func (a *springApp) login(t *testing.T, user, tenant, roles string) (cookie string, hc *http.Client) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc = &http.Client{Jar: jar, Timeout: time.Minute}
	form := url.Values{"user": {user}, "tenant": {tenant}, "roles": {roles}}
	resp, err := hc.PostForm(a.base+"/login", form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("app login: %d %s", resp.StatusCode, body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "SESSION" {
			return c.Value, hc
		}
	}
	t.Fatalf("app login set no SESSION cookie: %v", resp.Header["Set-Cookie"])
	return "", nil
}

func (a *springApp) logout(t *testing.T, hc *http.Client) {
	t.Helper()
	resp, err := hc.Post(a.base+"/logout", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("app logout: %d", resp.StatusCode)
	}
}

func TestSpringSessionLogin(t *testing.T) {
	jar := springJar(t)
	r := testenv.Redis(t)
	apps := startSpringApps(t, jar, r.Port, "jdk", "json")
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	check := time.Second
	tn := startNode(t, func(c *Config) {
		// The app's Redis is the node's: one client serves both.
		c.RedisURL = r.URL
		c.LoginKey = "spring:session:sessions:{id}"
		c.AllowedOrigins = []string{appOrigin}
		c.LoginCheck = check
		c.Grace = 500 * time.Millisecond
	})
	for _, ser := range []string{"jdk", "json"} {
		t.Run(ser, func(t *testing.T) {
			app := apps[ser]
			user := "alice-" + ser
			cookie, hc := app.login(t, user, "acme", "user,admin")
			raw, err := base64.StdEncoding.DecodeString(cookie)
			if err != nil {
				t.Fatalf("SESSION cookie %q is not base64: %v", cookie, err)
			}
			id := string(raw)
			// The app really wrote with this serializer.
			stored, err := rdb.HGet(context.Background(), "spring:session:sessions:"+id, "sessionAttr:pgw.user").Result()
			if err != nil {
				t.Fatalf("the app's session hash: %v", err)
			}
			if javaStream := strings.HasPrefix(stored, "\xac\xed"); javaStream != (ser == "jdk") {
				t.Fatalf("%s serializer stored pgw.user as %q", ser, stored)
			}

			watcher := watch(t, tn, user)
			// A browser page of the app: the cookie goes with the upgrade.
			page := dial(t, tn.url, cookieHeader(cookie, appOrigin))
			w := page.request(map[string]any{"type": "hello", "session": "web-" + ser, "device": "web"})
			if w["type"] != "welcome" || w["user"] != user || w["tenant"] != "acme" {
				t.Fatalf("hello with the app's cookie: %v", w)
			}
			// Another client hands the session id over in hello.login.
			desk := dial(t, tn.url, nil)
			w = desk.request(map[string]any{"type": "hello", "login": id, "session": "desk-" + ser, "device": "desktop"})
			if w["type"] != "welcome" || w["user"] != user {
				t.Fatalf("hello.login: %v", w)
			}
			// Roles came from the session: admin may set another user's status.
			if r := desk.request(map[string]any{"type": "subscribe", "tenant": true}); r["type"] != "ok" {
				t.Fatalf("subscribe: %v", r)
			}
			watcher.waitFrame(0, 10*time.Second, func(f map[string]any) bool {
				return f["type"] == "presence" && f["user"] == user && f["status"] == "online"
			})
			// The HTTP API takes the cookie too.
			resp := newAPIClient(t, tn).do(apiReq{method: "GET", path: "/v1/presence/" + user, header: cookieHeader(cookie, "")})
			if resp.status != http.StatusOK || resp.json["status"] != "online" {
				t.Fatalf("GET presence with the cookie: %d %s", resp.status, resp.raw)
			}

			app.logout(t, hc)
			loggedOut := time.Now()
			for _, c := range []*client{page, desk} {
				c.waitFrame(0, check+20*time.Second, func(f map[string]any) bool { return f["type"] == "bye" && f["reason"] == "login_revoked" })
				if ce := c.waitClose(10 * time.Second); ce.Code != problem.CloseAuth || ce.Text != string(problem.LoginRevoked) {
					t.Fatalf("closed %d %q, want 4401 login_revoked", ce.Code, ce.Text)
				}
			}
			t.Logf("%s: connections closed login_revoked %v after the app's logout (PGW_LOGIN_CHECK %v)", ser, time.Since(loggedOut).Round(time.Millisecond), check)
			watcher.waitFrame(0, 10*time.Second, func(f map[string]any) bool {
				return f["type"] == "presence" && f["user"] == user && f["status"] == "offline"
			})
			// The gateway never wrote to the app's session: it is gone.
			if n := rdb.Exists(context.Background(), "spring:session:sessions:"+id).Val(); n != 0 {
				t.Fatalf("the session key exists again after logout")
			}
		})
	}
}
