// Command loadtest drives a pgw gateway with scenario traffic and reports
// latency, throughput, server cost and a correctness verdict. See
// docs/loadtest.md.
package main

import (
	"os"

	"github.com/pgw/pgw/loadtest/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
