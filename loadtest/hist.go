package loadtest

import (
	"encoding/json"
	"fmt"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: microseconds from 1 µs to 10 minutes.
const (
	histLowest  = 1
	histHighest = int64(10 * time.Minute / time.Microsecond)
)

// Hist is a latency HdrHistogram in microseconds that survives JSON: it is
// written as the compressed V2 encoding plus the summary a reader wants, and
// read back from the encoding, so worker results merge without loss.
type Hist struct {
	h *hdrhistogram.Histogram
}

// NewHist returns an empty histogram with digits significant digits (3 for
// run totals, 2 for the per-second ones to keep them small).
func NewHist(digits int) *Hist {
	return &Hist{h: hdrhistogram.New(histLowest, histHighest, digits)}
}

// Record adds one latency; values outside the range are clamped, so a
// pathological outlier still counts.
func (h *Hist) Record(d time.Duration) {
	v := d.Microseconds()
	if v < histLowest {
		v = histLowest
	}
	if v > histHighest {
		v = histHighest
	}
	_ = h.h.RecordValue(v)
}

// Merge adds every value of o to h.
func (h *Hist) Merge(o *Hist) {
	if o != nil {
		h.h.Merge(o.h)
	}
}

// Count is the number of values.
func (h *Hist) Count() int64 {
	if h == nil {
		return 0
	}
	return h.h.TotalCount()
}

// Quantile returns the latency at q (0..100) percent, 0 when empty.
func (h *Hist) Quantile(q float64) time.Duration {
	if h.Count() == 0 {
		return 0
	}
	return time.Duration(h.h.ValueAtPercentile(q)) * time.Microsecond
}

// Max is the largest value.
func (h *Hist) Max() time.Duration {
	if h.Count() == 0 {
		return 0
	}
	return time.Duration(h.h.Max()) * time.Microsecond
}

// Mean is the average value.
func (h *Hist) Mean() time.Duration {
	if h.Count() == 0 {
		return 0
	}
	return time.Duration(h.h.Mean()) * time.Microsecond
}

// Summary is the readable digest of a histogram, in milliseconds.
type Summary struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

// Summary digests h.
func (h *Hist) Summary() Summary {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return Summary{Count: h.Count(), Mean: ms(h.Mean()), P50: ms(h.Quantile(50)), P90: ms(h.Quantile(90)),
		P99: ms(h.Quantile(99)), P999: ms(h.Quantile(99.9)), Max: ms(h.Max())}
}

type histJSON struct {
	Summary
	Encoded string `json:"hdr"`
}

// MarshalJSON writes the summary and the compressed histogram.
func (h *Hist) MarshalJSON() ([]byte, error) {
	enc, err := h.h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil, fmt.Errorf("encode histogram: %w", err)
	}
	return json.Marshal(histJSON{Summary: h.Summary(), Encoded: string(enc)})
}

// UnmarshalJSON reads the compressed histogram back.
func (h *Hist) UnmarshalJSON(b []byte) error {
	var j histJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	d, err := hdrhistogram.Decode([]byte(j.Encoded))
	if err != nil {
		return fmt.Errorf("decode histogram: %w", err)
	}
	h.h = d
	return nil
}
