package report

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Series is one line of a chart.
type Series struct {
	Name string
	X, Y []float64
}

// palette holds distinguishable line colours.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

// Chart geometry.
const (
	chartW, chartH         = 720, 260
	padL, padR, padT, padB = 64, 16, 28, 40
)

// niceStep rounds a raw tick step to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / p; {
	case f <= 1:
		return p
	case f <= 2:
		return 2 * p
	case f <= 5:
		return 5 * p
	}
	return 10 * p
}

// fmtTick prints a tick value compactly.
func fmtTick(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.3gk", v/1e3)
	case a == math.Trunc(a):
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// LineChart draws series as an inline SVG line chart with axes, ticks and a
// legend. Negative values (unknown samples) are left out. xMax, when
// positive, fixes the x axis (so the charts of one run line up).
func LineChart(title, xLabel, yLabel string, xMax float64, series []Series) string {
	maxX, maxY := xMax, 0.0
	points := 0
	for _, s := range series {
		for i := range s.X {
			if s.Y[i] < 0 {
				continue
			}
			maxX, maxY = math.Max(maxX, s.X[i]), math.Max(maxY, s.Y[i])
			points++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		chartW, chartH, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="%d" y="18" font-size="14" font-weight="bold">%s</text>`, padL, html.EscapeString(title))
	if points == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="13" fill="#777">no data</text></svg>`, chartW/2-30, chartH/2)
		return b.String()
	}
	if maxX <= 0 {
		maxX = 1
	}
	xStep := niceStep(maxX / 6)
	yStep := niceStep(maxY / 5)
	maxX = math.Ceil(maxX/xStep) * xStep
	maxY = math.Max(math.Ceil(maxY/yStep)*yStep, yStep)
	pw, ph := float64(chartW-padL-padR), float64(chartH-padT-padB)
	px := func(x float64) float64 { return float64(padL) + x/maxX*pw }
	py := func(y float64) float64 { return float64(padT) + ph - y/maxY*ph }
	for y := 0.0; y <= maxY+yStep/2; y += yStep {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, padL, chartW-padR, py(y), py(y))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="11" text-anchor="end" fill="#555">%s</text>`, padL-6, py(y)+4, fmtTick(y))
	}
	for x := 0.0; x <= maxX+xStep/2; x += xStep {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" text-anchor="middle" fill="#555">%s</text>`, px(x), chartH-padB+16, fmtTick(x))
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#333"/>`, padL, chartW-padR, py(0), py(0))
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%.1f" stroke="#333"/>`, padL, padL, padT, py(0))
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" text-anchor="middle" fill="#333">%s</text>`, padL+int(pw/2), chartH-6, html.EscapeString(xLabel))
	fmt.Fprintf(&b, `<text x="14" y="%d" font-size="11" text-anchor="middle" fill="#333" transform="rotate(-90 14 %d)">%s</text>`,
		padT+int(ph/2), padT+int(ph/2), html.EscapeString(yLabel))
	lx, ly := padL+8, padT+12
	for i, s := range series {
		colour := palette[i%len(palette)]
		var pts []string
		for j := range s.X {
			if s.Y[j] >= 0 {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.X[j]), py(s.Y[j])))
			}
		}
		if len(pts) == 1 {
			fmt.Fprintf(&b, `<circle cx="%s" r="2.5" fill="%s"/>`, strings.Replace(pts[0], ",", `" cy="`, 1), colour)
		} else if len(pts) > 1 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.6" points="%s"/>`, colour, strings.Join(pts, " "))
		}
		width := 30 + 13*len([]rune(s.Name))/2
		if lx+width > chartW-padR && lx > padL+8 {
			lx, ly = padL+8, ly+14
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="3" fill="%s"/><text x="%d" y="%d" font-size="11" fill="#333">%s</text>`,
			lx, ly-4, colour, lx+14, ly, html.EscapeString(s.Name))
		lx += width
	}
	b.WriteString(`</svg>`)
	return b.String()
}
