package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/pgw/pgw/loadtest"
	"github.com/pgw/pgw/loadtest/report"
)

// rerender writes the reports of a saved JSON result again.
func rerender(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var out outputs
	fs.StringVar(&out.text, "text", "-", "text report file (- for stdout, empty for none)")
	fs.StringVar(&out.html, "html", "", "HTML report file")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: loadtest report [--text F] [--html F] result.json")
		return ExitError
	}
	r, err := readResult(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitError
	}
	if err := writeReports(r, out, stdout); err != nil {
		fmt.Fprintln(stderr, err)
		return ExitError
	}
	return ExitPass
}

// readResult reads a --json report.
func readResult(path string) (*loadtest.Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r loadtest.Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// summarize turns JSON results into the benchmark markdown page.
func summarize(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("summarize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "-", "markdown file to write (- for stdout)")
	setup := fs.String("setup", "", "one sentence on how the gateways ran")
	if err := fs.Parse(args); err != nil {
		return ExitError
	}
	var results []*loadtest.Result
	for _, path := range fs.Args() {
		r, err := readResult(path)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return ExitError
		}
		results = append(results, r)
	}
	m := report.Machine{Date: time.Now(), Cores: runtime.NumCPU(), CPU: cpuModel(), GoVersion: runtime.Version(),
		Kernel: "Linux " + readTrim("/proc/sys/kernel/osrelease"), Setup: *setup}
	w := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return ExitError
		}
		defer f.Close()
		w = f
	}
	if err := report.WriteMarkdown(w, m, results); err != nil {
		fmt.Fprintln(stderr, err)
		return ExitError
	}
	return ExitPass
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	for _, line := range strings.Split(readTrim("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// freePort prints a TCP port free on 127.0.0.1 a moment ago (for scripts).
func freePort(stdout, stderr io.Writer) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitError
	}
	defer l.Close()
	fmt.Fprintln(stdout, l.Addr().(*net.TCPAddr).Port)
	return ExitPass
}
