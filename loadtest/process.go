package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// The worker protocol: JSON lines. The coordinator writes one workerInit to
// the worker's stdin, then one workerGo per barrier; the worker writes
// workerMsg lines to stdout (barrier arrivals, progress, its result). Logs go
// to stderr, never stdout.

type workerInit struct {
	Config Config    `json:"config"`
	Secret string    `json:"secret"`
	Index  int       `json:"index"`
	Procs  int       `json:"procs"`
	T0     time.Time `json:"t0"`
}

type workerGo struct {
	At time.Time `json:"at"`
}

type workerMsg struct {
	Barrier  string    `json:"barrier,omitempty"`
	Open     int64     `json:"open,omitempty"`
	Progress *Progress `json:"progress,omitempty"`
	Result   *Result   `json:"result,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// procSync is a worker process's Syncer: it announces the barrier on stdout
// and waits for the coordinator's go on stdin.
type procSync struct {
	out *lineWriter
	in  *bufio.Scanner
	rec *Recorder
}

func (s *procSync) Barrier(ctx context.Context, phase string) (time.Time, error) {
	if err := s.out.write(workerMsg{Barrier: phase, Open: s.rec.open.Load()}); err != nil {
		return time.Time{}, err
	}
	if !s.in.Scan() {
		return time.Time{}, fmt.Errorf("%w: coordinator closed stdin at %s: %v", ErrWorker, phase, s.in.Err())
	}
	var g workerGo
	if err := json.Unmarshal(s.in.Bytes(), &g); err != nil {
		return time.Time{}, fmt.Errorf("%w: bad go line: %w", ErrWorker, err)
	}
	return g.At, ctx.Err()
}

// lineWriter writes JSON lines from several goroutines.
type lineWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (l *lineWriter) write(v any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.enc.Encode(v)
}

// RunWorkerProcess is the body of `loadtest worker`: it reads its share of
// the run from in, runs it, and reports on out.
func RunWorkerProcess(ctx context.Context, in io.Reader, out io.Writer, log *slog.Logger) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	if !sc.Scan() {
		return fmt.Errorf("%w: no init line on stdin", ErrWorker)
	}
	var init workerInit
	if err := json.Unmarshal(sc.Bytes(), &init); err != nil {
		return fmt.Errorf("%w: bad init line: %w", ErrWorker, err)
	}
	init.Config.Secret = init.Secret
	if _, err := RaiseNoFile(); err != nil {
		log.Warn("cannot raise the open-file limit", "err", err)
	}
	lw := &lineWriter{enc: json.NewEncoder(out)}
	w := NewWorker(init.Config, init.Index, init.Procs, init.T0, nil, log)
	w.Sync = &procSync{out: lw, in: sc, rec: w.Rec}

	stop := every(500*time.Millisecond, func() { // progress twice a second
		p := w.Rec.Progress()
		p.Phase = w.Phase()
		_ = lw.write(workerMsg{Progress: &p})
	})
	res, err := w.Run(ctx)
	stop()
	msg := workerMsg{Result: &res}
	if err != nil {
		msg.Error = err.Error()
	}
	if werr := lw.write(msg); werr != nil {
		return werr
	}
	return err
}
