package loadtest

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Counter names of Result.Counters.
const (
	CConnects      = "connects"        // welcomes received (first connects and reconnects)
	CConnectFailed = "connect_failed"  // dials that ended without welcome
	CWanted        = "connects_wanted" // connections the scenario meant to open
	CSent          = "sent"            // driven frames sent (status changes, ipt events)
	CExpected      = "expected"        // deliveries the sends should cause
	CDelivered     = "delivered"       // tagged deliveries received
	CDuplicate     = "duplicates"      // a delivery seen twice, or a version that went back
	CClosedByUs    = "closed_by_us"    // deliberate closes and drops
	CUnexpected    = "closed_by_server"
	CPresenceOK    = "presence_ok"    // users whose presence matched at the end
	CPresenceWrong = "presence_wrong" // users whose presence did not converge
	CActions       = "actions"        // churn actions done
	CFlaps         = "flaps"          // churn: offline published while a session was live
	CBack          = "back"           // storm: connections back after the drop
	CStaleKeys     = "stale_conn_keys"
	CCallsExpected = "calls_expected"
	CCalls         = "calls"
	CPhones        = "phone_updates"
	CSkipped       = "skipped"         // scheduled work not done because the target was busy
	CRefused       = "refused"         // fanout: status changes the gateway answered with an error (not expected at subscribers)
	CPresenceIn    = "presence_frames" // every presence frame the harness's connections received
	CCallIn        = "call_frames"     // every call frame received
	CClientCPUms   = "client_cpu_ms"   // CPU the harness's worker processes used
)

// Maxima names of Result.Maxima (merged by taking the largest).
const (
	MAllBackMicros = "all_back_us" // storm: drop → last connection back
	MRampMicros    = "ramp_us"     // first dial → last welcome of the ramp
	MPeakOpen      = "peak_open"   // most connections open at once (per worker; summed on merge)
)

// Latency names of Result.Latency.
const (
	LConnect  = "connect"  // intended dial time → welcome
	LDelivery = "delivery" // intended status send time → presence frame at a subscriber
	// LSendLag is the fan-out driver's own lateness: intended status send
	// time → the frame handed to the kernel. Delivery latency includes it,
	// so a delivery p99 near it is the harness's, not the gateway's.
	LSendLag   = "send lag"
	LReconnect = "reconnect" // storm drop → welcome
	LCall      = "call"      // intended ipt.event time → call frame at the user
	LPhone     = "phone"     // intended ipt.event time → presence frame with the phone state
)

// Second is one second of a run (T seconds after the run's start).
type Second struct {
	T         int   `json:"t"`
	Connects  int64 `json:"connects"`
	Sent      int64 `json:"sent"`
	Delivered int64 `json:"delivered"`
	Errors    int64 `json:"errors"`
	Open      int64 `json:"open"`
	// Lat holds the scenario's main latency for values recorded in this second.
	Lat *Hist `json:"lat,omitempty"`
}

// Recorder collects one worker's measurements; every method is safe for
// concurrent use by the connections' reader goroutines.
type Recorder struct {
	t0      time.Time
	primary string

	open atomic.Int64

	mu       sync.Mutex
	counters map[string]int64
	maxima   map[string]int64
	errors   map[string]int64
	lat      map[string]*Hist
	secs     map[int]*Second
	notes    []string
}

// NewRecorder starts a recorder whose seconds count from t0; values recorded
// under the latency name primary also go to the per-second histograms.
func NewRecorder(t0 time.Time, primary string) *Recorder {
	return &Recorder{t0: t0, primary: primary, counters: map[string]int64{}, maxima: map[string]int64{},
		errors: map[string]int64{}, lat: map[string]*Hist{}, secs: map[int]*Second{}}
}

func (r *Recorder) second(at time.Time) *Second {
	t := int(at.Sub(r.t0) / time.Second)
	if t < 0 {
		t = 0
	}
	s := r.secs[t]
	if s == nil {
		s = &Second{T: t}
		r.secs[t] = s
	}
	return s
}

// Add adds n to a counter; the per-second columns follow the counters they
// are named after.
func (r *Recorder) Add(name string, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counters[name] += n
	s := r.second(time.Now())
	switch name {
	case CConnects:
		s.Connects += n
	case CSent:
		s.Sent += n
	case CDelivered, CCalls:
		s.Delivered += n
	}
}

// Counter returns a counter's value.
func (r *Recorder) Counter(name string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counters[name]
}

// Max raises a maximum.
func (r *Recorder) Max(name string, v int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v > r.maxima[name] {
		r.maxima[name] = v
	}
}

// Error counts one error under key (a close code, problem code, "dial"...).
func (r *Recorder) Error(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors[key]++
	r.second(time.Now()).Errors++
}

// Latency records d under name.
func (r *Recorder) Latency(name string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.lat[name]
	if h == nil {
		h = NewHist(3)
		r.lat[name] = h
	}
	h.Record(d)
	if name == r.primary {
		s := r.second(time.Now())
		if s.Lat == nil {
			s.Lat = NewHist(2)
		}
		s.Lat.Record(d)
	}
}

// Opened counts a connection that is now open.
func (r *Recorder) Opened() { r.open.Add(1) }

// ClosedConn counts a connection that has ended.
func (r *Recorder) ClosedConn() { r.open.Add(-1) }

// Tick samples the open connections into the current second; the worker
// calls it every second (and more often does no harm: the largest wins).
func (r *Recorder) Tick() {
	open := r.open.Load()
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.second(time.Now()); open > s.Open {
		s.Open = open
	}
	if open > r.maxima[MPeakOpen] {
		r.maxima[MPeakOpen] = open
	}
}

// Note keeps a short remark for the report (the first 50 are kept).
func (r *Recorder) Note(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.notes) < 50 {
		r.notes = append(r.notes, s)
	}
}

// Progress is the live digest a worker reports twice a second.
type Progress struct {
	Phase     string  `json:"phase"`
	Open      int64   `json:"open"`
	Connects  int64   `json:"connects"`
	Sent      int64   `json:"sent"`
	Delivered int64   `json:"delivered"`
	Errors    int64   `json:"errors"`
	P99ms     float64 `json:"p99_ms"`
}

// Progress returns the live digest.
func (r *Recorder) Progress() Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := Progress{Open: r.open.Load(), Connects: r.counters[CConnects], Sent: r.counters[CSent],
		Delivered: r.counters[CDelivered] + r.counters[CCalls]}
	for _, n := range r.errors {
		p.Errors += n
	}
	if h := r.lat[r.primary]; h != nil {
		p.P99ms = float64(h.Quantile(99).Microseconds()) / 1000
	}
	return p
}

// Result returns a copy of everything recorded (the worker's part of a run).
func (r *Recorder) Result() Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := Result{Counters: map[string]int64{}, Maxima: map[string]int64{}, Errors: map[string]int64{},
		Latency: map[string]*Hist{}, Notes: append([]string(nil), r.notes...)}
	for k, v := range r.counters {
		res.Counters[k] = v
	}
	for k, v := range r.maxima {
		res.Maxima[k] = v
	}
	for k, v := range r.errors {
		res.Errors[k] = v
	}
	for k, h := range r.lat {
		c := NewHist(3)
		c.Merge(h)
		res.Latency[k] = c
	}
	for _, s := range r.secs {
		c := *s
		if s.Lat != nil {
			c.Lat = NewHist(2)
			c.Lat.Merge(s.Lat)
		}
		res.Seconds = append(res.Seconds, c)
	}
	sort.Slice(res.Seconds, func(i, j int) bool { return res.Seconds[i].T < res.Seconds[j].T })
	return res
}
