// Command lethe sanitizes storage devices and proves it: it erases drives,
// verifies the old data is gone, and signs a certificate per drive.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/internal/safetext"
)

// version is set at build time: -ldflags "-X main.version=..."; in the
// boot image's busybox binary the package is no longer main, so the image
// builder sets github.com/lethe-project/lethe/cmd/lethe.version instead. It
// has no initializer on purpose: u-root's busybox rewrite turns initialized
// package variables into code run at command start, which would overwrite
// the -X value.
var version string

func init() {
	if version == "" {
		version = "dev"
	}
}

// Exit codes (DESIGN.md §7).
const (
	exitOK      = 0
	exitFailed  = 1 // a drive failed, or verification failed
	exitUsage   = 2 // bad flag, no such device, refused by a guard
	exitAborted = 1 // the operator stopped the run: the drive is not erased
)

// exitError carries an exit code with the error to print.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{exitUsage, fmt.Errorf(format, args...)}
}

func failed(format string, args ...any) error {
	return &exitError{exitFailed, fmt.Errorf(format, args...)}
}

// exitCode maps an error to the process exit code.
func exitCode(err error) int {
	var ee *exitError
	var ve *attest.VerifyError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case engineUsageError(err):
		return exitUsage
	case errors.As(err, &ve):
		return exitFailed
	}
	return exitFailed
}

// logger is the command's logger (log/slog: the standard library's
// structured logger, so packages take a *slog.Logger without pulling in a
// logging library). setupLogging configures it from --log-format and
// --log-level; logOutput lets the progress bars draw log lines above
// themselves.
var (
	logLevel  = new(slog.LevelVar)
	logOutput = &switchWriter{w: os.Stderr}
	logger    = slog.New(slog.NewTextHandler(logOutput, &slog.HandlerOptions{Level: logLevel}))
)

// switchWriter is an io.Writer whose destination can change while loggers
// hold it.
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// Set redirects the writer and returns the previous destination.
func (s *switchWriter) Set(w io.Writer) io.Writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.w
	s.w = w
	return prev
}

// commands are the subcommands, in the order help lists them. Each new
// command is one line here.
var commands = []func() *cobra.Command{
	newDevicesCmd,
	newPlanCmd,
	newWipeCmd,
	newConfigCmd,
	newStationCmd,
	newVerifyCmd,
	newKeygenCmd,
	newCertCmd,
	newAuditCmd,
	newImageCmd,
	newModulesCmd,
	newAgentCmd,
	newPXECmd,
}

type globalFlags struct {
	logFormat string
	logLevel  string
}

func newRootCmd() *cobra.Command {
	var g globalFlags
	root := &cobra.Command{
		Use:   "lethe",
		Short: "Sanitize storage devices and prove it",
		Long: `lethe erases drives with the strongest method they support, verifies that
the old data is gone, and signs a certificate of sanitization per drive
(NIST SP 800-88 Rev. 2, IEEE 2883).`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFlagText(cmd); err != nil {
				return err
			}
			return setupLogging(g)
		},
	}
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "auto", "log format: text, json, or auto (json when stderr is not a terminal)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	addConfigFlag(root.PersistentFlags())
	for _, newCmd := range commands {
		root.AddCommand(newCmd())
	}
	polishCLI(root)
	return root
}

func setupLogging(g globalFlags) error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		return usageErr("--log-level %q: want debug, info, warn or error", g.logLevel)
	}
	logLevel.Set(lvl)
	opts := &slog.HandlerOptions{Level: logLevel}
	switch g.logFormat {
	case "json":
		logger = slog.New(slog.NewJSONHandler(logOutput, opts))
	case "text":
		logger = slog.New(slog.NewTextHandler(logOutput, opts))
	case "auto":
		if stderrIsTerminal() {
			logger = slog.New(slog.NewTextHandler(logOutput, opts))
		} else {
			logger = slog.New(slog.NewJSONHandler(logOutput, opts))
		}
	default:
		return usageErr("--log-format %q: want text, json or auto", g.logFormat)
	}
	return nil
}

// checkFlagText refuses a control character (newline, tab, an ANSI escape,
// a bidirectional override) in any string flag, its default included: the
// personnel flags go into certificates verbatim, where such characters
// could forge lines of a displayed certificate, and no other flag has a
// use for them (issue 10, item 8).
func checkFlagText(cmd *cobra.Command) error {
	var bad error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if bad != nil {
			return
		}
		var values []string
		switch v := f.Value.(type) {
		case pflag.SliceValue:
			values = v.GetSlice()
		default:
			if t := f.Value.Type(); t == "string" {
				values = []string{f.Value.String()}
			}
		}
		for _, s := range values {
			if err := safetext.Check(s); err != nil {
				bad = usageErr("--%s %q: %v", f.Name, s, err)
				return
			}
		}
	})
	return bad
}

func stderrIsTerminal() bool { return term.IsTerminal(int(os.Stderr.Fd())) }

func main() {
	root := newRootCmd()
	err := root.Execute()
	if err != nil {
		// Cobra's own argument errors are usage errors.
		var ee *exitError
		code := exitCode(err)
		if !errors.As(err, &ee) && isCobraUsage(err) {
			code = exitUsage
		}
		fmt.Fprintln(os.Stderr, "lethe:", err)
		os.Exit(code)
	}
}

// isCobraUsage recognizes cobra's errors for unknown commands and wrong
// argument counts, which it returns as plain errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "unknown flag", "unknown shorthand", "flag needs an argument", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// dash shows an empty value as "-".
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
