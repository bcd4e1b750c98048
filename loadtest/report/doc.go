// Package report renders a load-test result (loadtest.Result) for people and
// machines: a text table for the terminal, indented JSON, and one
// self-contained HTML page with inline SVG charts (no scripts, no external
// files, opens offline). It only reads results; it measures nothing.
package report
