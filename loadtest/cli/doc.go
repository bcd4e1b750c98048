// Package cli is the loadtest command: flags to a loadtest.Config, the live
// progress line, the reports, the worker entry point and the cleanup of a
// run's Redis prefix. cmd/loadtest only calls Main.
package cli
