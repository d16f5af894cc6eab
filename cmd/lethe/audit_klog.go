package main

import (
	"flag"
	"io"

	"k8s.io/klog/v2"
)

// quietTessera keeps Tessera's (klog's) informational lines out of the
// store's output — on a first start they include "Failed to fetch old
// checkpoint: file does not exist", which is how Tessera says the log is
// new — and passes its warnings and errors to w, once each.
func quietTessera(w io.Writer) {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("alsologtostderr", "false")
	_ = fs.Set("stderrthreshold", "FATAL")
	_ = fs.Set("skip_log_headers", "true")
	// klog writes a message to its own severity's output and every lower
	// one: INFO and ERROR/FATAL go nowhere, so WARNING (which also
	// receives errors) writes each warning or error once.
	klog.SetOutputBySeverity("INFO", io.Discard)
	klog.SetOutputBySeverity("WARNING", w)
	klog.SetOutputBySeverity("ERROR", io.Discard)
	klog.SetOutputBySeverity("FATAL", io.Discard)
}
