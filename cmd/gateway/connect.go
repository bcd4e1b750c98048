package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// connect is `gateway connect`: one WebSocket client from the shell. It
// sends hello with the token, then each frame given as an argument (a JSON
// object; an "id" is added when missing), and prints every frame the
// gateway sends, one JSON object per line, until the gateway closes, the
// --for time is up, or Ctrl-C. The README's tour uses it; it needs no
// browser and no Node.js.
func connect(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gateway connect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gateway connect --token JWT [flags] [frame JSON ...]\n"+
			"sends hello, then each frame, and prints every frame received, one per line")
		fs.PrintDefaults()
	}
	addr := getenv("PGW_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	url := fs.String("url", "ws://"+addr+"/v1/ws", "the gateway's WebSocket URL (default from PGW_ADDR)")
	token := fs.String("token", getenv("PGW_TOKEN"), "the JWT sent in hello (PGW_TOKEN)")
	session := fs.String("session", "", "session id (default: the gateway makes one)")
	window := fs.String("window", "main", "main or child")
	device := fs.String("device", "desktop", "desktop, web, mobile or bridge")
	watch := fs.Bool("watch", false, "watch only: subscribe without being present (hello.watch)")
	dur := fs.Duration("for", 0, "close after this long (0: until the gateway closes or Ctrl-C)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *token == "" {
		fmt.Fprintln(stderr, "gateway connect: --token (PGW_TOKEN) is required: mint one with `gateway token --sub U --tenant T`")
		return 2
	}
	frames := make([]map[string]any, 0, fs.NArg())
	for i, a := range fs.Args() {
		var f map[string]any
		if err := json.Unmarshal([]byte(a), &f); err != nil {
			fmt.Fprintf(stderr, "gateway connect: frame %d is not a JSON object (%v): %s\n", i+1, err, a)
			return 2
		}
		frames = append(frames, f)
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *dur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *dur)
		defer cancel()
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	ws, resp, err := websocket.DefaultDialer.DialContext(dctx, *url, nil)
	cancel()
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			fmt.Fprintf(stderr, "gateway connect: %s refused the upgrade: %s %s\n", *url, resp.Status, strings.TrimSpace(string(body)))
		} else {
			fmt.Fprintf(stderr, "gateway connect: cannot connect to %s: %v (is the gateway running? PGW_ADDR or --url)\n", *url, err)
		}
		return 1
	}
	defer ws.Close()

	hello := map[string]any{"type": "hello", "id": 1, "token": *token, "window": *window, "device": *device, "client": "gateway-connect/1"}
	if *session != "" {
		hello["session"] = *session
	}
	if *watch {
		hello["watch"] = true
	}
	if err := ws.WriteJSON(hello); err != nil {
		fmt.Fprintf(stderr, "gateway connect: send hello: %v\n", err)
		return 1
	}
	// The reader owns the connection's reads; the frames go out after
	// welcome, so a refused hello sends nothing more.
	welcomed := make(chan struct{})
	done := make(chan int, 1)
	go func() {
		sent := false
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				done <- closeStatus(err, stderr)
				return
			}
			fmt.Fprintln(stdout, strings.TrimSpace(string(data)))
			if !sent && strings.Contains(string(data), `"type":"welcome"`) {
				sent = true
				close(welcomed)
			}
		}
	}()
	select {
	case <-welcomed:
		for i, f := range frames {
			if _, ok := f["id"]; !ok {
				f["id"] = i + 2
			}
			if err := ws.WriteJSON(f); err != nil {
				fmt.Fprintf(stderr, "gateway connect: send frame %d: %v\n", i+1, err)
				return 1
			}
		}
	case code := <-done:
		return code
	case <-ctx.Done():
	}
	select {
	case code := <-done:
		return code
	case <-ctx.Done():
	}
	// Ctrl-C or --for: a normal close, then wait a moment for the reply.
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	return 0
}

// closeStatus reports how the gateway ended the connection: 0 for a normal
// close, 1 (with the code and reason on stderr) otherwise.
func closeStatus(err error, stderr io.Writer) int {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce) && ce.Code == websocket.CloseNormalClosure:
		return 0
	case errors.As(err, &ce):
		fmt.Fprintf(stderr, "gateway connect: closed by the gateway: code %d %s\n", ce.Code, ce.Text)
	case errors.Is(err, net.ErrClosed):
		return 0
	default:
		fmt.Fprintf(stderr, "gateway connect: connection lost: %v\n", err)
	}
	return 1
}
