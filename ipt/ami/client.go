package ami

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors of the client. Each is wrapped with %w and the detail that caused it.
var (
	// ErrBanner: the peer did not greet with "Asterisk Call Manager/...".
	ErrBanner = errors.New("ami: not an AMI banner")
	// ErrAuth: Login was refused (wrong username or secret, or ACL).
	ErrAuth = errors.New("ami: login refused")
	// ErrAction: an action was answered with "Response: Error".
	ErrAction = errors.New("ami: action failed")
	// ErrClosed: the connection is closed (by Close, the peer or an error).
	ErrClosed = errors.New("ami: connection closed")
	// ErrEventOverflow: the event queue passed MaxQueuedEvents because nobody
	// read it; the connection is dropped so the owner resynchronises instead
	// of the process growing without bound.
	ErrEventOverflow = errors.New("ami: event queue overflow")
	// ErrBadField: an action field would break the line framing.
	ErrBadField = errors.New("ami: invalid field")
)

// Config says where and as whom to connect.
type Config struct {
	// Addr is host:port of the manager interface (Asterisk's default 5038).
	Addr string
	// Username and Secret are a [user] of manager.conf.
	Username string
	Secret   string
	// DialTimeout bounds the TCP connect, banner and login (default 10s).
	DialTimeout time.Duration
	// ActionTimeout bounds each action without its own deadline (default 10s).
	ActionTimeout time.Duration
	// PingInterval sends "Action: Ping" this often so a dead TCP peer is
	// noticed (AMI has no keepalive of its own); 0 means 20s, <0 disables.
	PingInterval time.Duration
	// MaxQueuedEvents bounds unread events (default 100000); see ErrEventOverflow.
	MaxQueuedEvents int
	// Logger receives debug lines; nil discards.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.ActionTimeout <= 0 {
		c.ActionTimeout = 10 * time.Second
	}
	if c.PingInterval == 0 {
		c.PingInterval = 20 * time.Second
	}
	if c.MaxQueuedEvents <= 0 {
		c.MaxQueuedEvents = 100000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Client is one logged-in AMI connection. Events are queued from the moment
// of login, so a caller can take a snapshot with List while nothing that
// happens meanwhile is lost. Its goroutines (reader, keepalive) end on Close
// or when the connection fails; Done tells which.
type Client struct {
	cfg  Config
	conn net.Conn
	log  *slog.Logger

	wmu sync.Mutex // serialises writes of whole blocks

	mu       sync.Mutex
	nextID   uint64
	pending  map[string]*pending
	events   []Message
	err      error // why the connection ended; set once
	evNotify chan struct{}

	done chan struct{} // closed when the connection has ended
	wg   sync.WaitGroup
}

// pending is one action waiting for its response (and list items).
type pending struct {
	list  bool
	resp  Message
	items []Message
	ch    chan struct{} // closed when complete
	err   error
}

// Dial connects, checks the banner and logs in with events on. The returned
// client must be closed.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	dctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("ami: dial %s: %w", cfg.Addr, err)
	}
	br := bufio.NewReader(conn)
	if dl, ok := dctx.Deadline(); ok {
		_ = conn.SetReadDeadline(dl)
	}
	banner, err := br.ReadString('\n')
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ami: read banner from %s: %w", cfg.Addr, err)
	}
	banner = strings.TrimSpace(banner)
	if !strings.HasPrefix(banner, "Asterisk Call Manager/") {
		conn.Close()
		return nil, fmt.Errorf("%w: %q", ErrBanner, banner)
	}
	_ = conn.SetReadDeadline(time.Time{})
	c := &Client{
		cfg:      cfg,
		conn:     conn,
		log:      cfg.Logger.With("ami", cfg.Addr),
		pending:  map[string]*pending{},
		evNotify: make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	c.wg.Add(1)
	go c.readLoop(br)
	if _, err := c.Action(dctx, "Login", map[string]string{
		"Username": cfg.Username, "Secret": cfg.Secret, "Events": "on",
	}); err != nil {
		c.Close()
		if errors.Is(err, ErrAction) {
			return nil, fmt.Errorf("%w as %q: %w", ErrAuth, cfg.Username, err)
		}
		return nil, fmt.Errorf("ami: login: %w", err)
	}
	c.log.Debug("ami logged in", "banner", banner)
	if cfg.PingInterval > 0 {
		c.wg.Add(1)
		go c.keepalive()
	}
	return c, nil
}

// Done is closed when the connection has ended; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, or nil while it is up.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the connection and waits for the client's goroutines.
func (c *Client) Close() error {
	c.fail(ErrClosed)
	c.wg.Wait()
	return nil
}

// EventsReady is signalled (capacity one, so it never blocks the reader)
// whenever events were queued; the reader should then call TakeEvents.
func (c *Client) EventsReady() <-chan struct{} { return c.evNotify }

// TakeEvents returns every queued event, oldest first, and empties the queue.
func (c *Client) TakeEvents() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	ev := c.events
	c.events = nil
	return ev
}

// Action sends one action and waits for its response. A "Response: Error"
// is returned as ErrAction with the server's Message.
func (c *Client) Action(ctx context.Context, action string, fields map[string]string) (Message, error) {
	p, err := c.send(ctx, action, fields, false)
	if err != nil {
		return Message{}, err
	}
	return p.resp, nil
}

// List sends an action whose answer is an event list (DeviceStateList,
// CoreShowChannels, PJSIPShowContacts, ...) and returns the response and the
// list's items, without the closing "...Complete" event. Events that are not
// part of the list keep flowing to the event queue meanwhile.
func (c *Client) List(ctx context.Context, action string, fields map[string]string) (Message, []Message, error) {
	p, err := c.send(ctx, action, fields, true)
	if err != nil {
		return Message{}, nil, err
	}
	return p.resp, p.items, nil
}

func (c *Client) send(ctx context.Context, action string, fields map[string]string, list bool) (*pending, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.ActionTimeout)
		defer cancel()
	}
	block := make(map[string]string, len(fields)+2)
	for k, v := range fields {
		if err := validField(k, v); err != nil {
			return nil, err
		}
		block[k] = v
	}
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	c.nextID++
	id := "pgw-" + strconv.FormatUint(c.nextID, 10)
	p := &pending{list: list, ch: make(chan struct{})}
	c.pending[id] = p
	c.mu.Unlock()
	block["Action"] = action
	block["ActionID"] = id

	if err := c.write(ctx, block); err != nil {
		c.forget(id)
		return nil, err
	}
	select {
	case <-p.ch:
		if p.err != nil {
			return nil, p.err
		}
		return p, nil
	case <-ctx.Done():
		c.forget(id)
		return nil, fmt.Errorf("ami: %s: %w", action, ctx.Err())
	case <-c.done:
		// The reader fails every pending action before closing done, but
		// p.ch and done may both be ready: prefer the action's own result.
		select {
		case <-p.ch:
			if p.err == nil {
				return p, nil
			}
		default:
		}
		return nil, c.Err()
	}
}

func (c *Client) forget(id string) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

func (c *Client) write(ctx context.Context, block map[string]string) error {
	var b strings.Builder
	writeFields(&b, block)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.conn.SetWriteDeadline(dl)
	}
	if _, err := c.conn.Write([]byte(b.String())); err != nil {
		err = fmt.Errorf("ami: write %s: %w", block["Action"], err)
		c.fail(err)
		return err
	}
	return nil
}

// fail ends the connection once, with err as the reason, and fails every
// pending action.
func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	for id, p := range c.pending {
		p.err = err
		close(p.ch)
		delete(c.pending, id)
	}
	c.mu.Unlock()
	_ = c.conn.Close()
	close(c.done)
}

func (c *Client) readLoop(br *bufio.Reader) {
	defer c.wg.Done()
	var pos uint64
	for {
		fields, err := ReadFields(br)
		if err != nil {
			c.fail(fmt.Errorf("%w: read: %w", ErrClosed, err))
			return
		}
		pos++
		if err := c.dispatch(Message{Pos: pos, Fields: fields}); err != nil {
			c.fail(err)
			return
		}
	}
}

// dispatch routes one message: a response or list item to the action that
// waits for it, any other event to the queue. It returns an error only when
// the queue overflows.
func (c *Client) dispatch(m Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil
	}
	id := m.ActionID()
	p := c.pending[id]
	switch {
	case p != nil && m.Response() != "":
		p.resp = m
		if strings.EqualFold(m.Response(), "Error") {
			p.err = fmt.Errorf("%w: %s: %s", ErrAction, id, m.Get("Message"))
		} else if p.list && strings.EqualFold(m.Get("EventList"), "start") {
			return nil // items follow
		}
		close(p.ch)
		delete(c.pending, id)
	case p != nil && p.list && m.Event() != "":
		if strings.EqualFold(m.Get("EventList"), "Complete") {
			close(p.ch)
			delete(c.pending, id)
			return nil
		}
		p.items = append(p.items, m)
	case m.Event() != "":
		if len(c.events) >= c.cfg.MaxQueuedEvents {
			return fmt.Errorf("%w: %d unread", ErrEventOverflow, len(c.events))
		}
		c.events = append(c.events, m)
		select {
		case c.evNotify <- struct{}{}:
		default:
		}
	default:
		c.log.Debug("ami message for nobody", "msg", m.String())
	}
	return nil
}

func (c *Client) keepalive() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), c.cfg.ActionTimeout)
			_, err := c.Action(ctx, "Ping", nil)
			cancel()
			if err != nil {
				c.fail(fmt.Errorf("%w: ping: %w", ErrClosed, err))
				return
			}
		}
	}
}
