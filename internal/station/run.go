package station

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/wipe"
	"github.com/lethe-project/lethe/sign"
)

// Certifier is who signs the certificates of a run and what they state
// about people, place and tool.
type Certifier struct {
	// Dir is where certificates are written.
	Dir       string
	Signers   []sign.Signer
	Personnel cert.Personnel
	Host      cert.Host
	Tool      cert.Tool
}

// Observer follows a run: progress per drive, and each drive's result as
// it ends. Its methods are called from the drives' goroutines.
type Observer interface {
	// Progress returns the progress callback for one drive (nil: none).
	Progress(device string) func(wipe.Progress)
	// Finished is called once per drive with its result.
	Finished(Result)
}

// Result is what happened to one drive.
type Result struct {
	Drive  Drive
	Report *wipe.Report // nil when the drive was not touched
	// CertPath is the signed certificate, empty if none could be written.
	CertPath string
	// Certificate is the certificate file's content.
	Certificate []byte
	Err         error
}

// Status is the certificate's status, FAILED when there is no report.
func (r Result) Status() cert.Status {
	if r.Report == nil {
		return cert.StatusFailed
	}
	return r.Report.Status
}

// Erased reports whether the drive is erased and its certificate written:
// the only result a run may call a success.
func (r Result) Erased() bool {
	return r.Report != nil && r.Report.Status == cert.StatusErased && r.CertPath != "" && r.Err == nil
}

// Run executes every drive's plan in parallel on its open target (closing
// it), certifies each drive and writes its signed certificate. A drive
// whose execution returns no report (nothing was changed) has Err set.
func Run(ctx context.Context, drives []Drive, targets []wipe.Target, cfg Config, c Certifier, obs Observer, log *slog.Logger) []Result {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	results := make([]Result, len(drives))
	var wg sync.WaitGroup
	for i := range drives {
		wg.Go(func() {
			defer targets[i].Close()
			results[i] = runOne(ctx, drives[i], targets[i], cfg, c, obs, log.With("device", drives[i].Device.Path))
			if obs != nil {
				obs.Finished(results[i])
			}
		})
	}
	wg.Wait()
	return results
}

func runOne(ctx context.Context, dr Drive, t wipe.Target, cfg Config, c Certifier, obs Observer, log *slog.Logger) Result {
	d := dr.Device
	log.Info("wipe started", "event", "start", "technique", dr.Plan.Technique.ID, "category", dr.Plan.Category,
		"method", dr.Plan.Method.Name, "verify", cfg.Verify, "size_bytes", d.SizeBytes)
	fo := cfg.Firmware
	fo.Notify = func(msg string) { log.Warn(msg) }
	var progress func(wipe.Progress)
	if obs != nil {
		progress = obs.Progress(d.Path)
	}
	rep, err := wipe.Execute(ctx, d, t, dr.Plan, wipe.ExecOptions{
		Verify: cfg.Verify, SamplePercent: cfg.SamplePercent, SampleSeed: cfg.SampleSeed,
		IO: cfg.IO, Progress: progress, Firmware: fo,
	})
	if err != nil {
		log.Error("wipe refused or failed before writing", "error", err)
		return Result{Drive: dr, Err: err}
	}
	abortedBy(ctx, rep)
	res := Result{Drive: dr, Report: rep}
	res.CertPath, res.Certificate, res.Err = c.write(d, rep)
	log.Info(rep.StatusReason, "event", "result", "status", rep.Status, "certificate", res.CertPath)
	if res.Err != nil {
		log.Error("certificate not written", "error", res.Err)
	}
	return res
}

// abortedBy records why a run was cancelled when the canceller said why
// (context.WithCancelCause: a drive pulled out of its bay): a drive that
// did not end ERASED is then ABORTED (re-sanitize) with that reason,
// rather than FAILED (destroy) for the I/O errors its removal caused. A
// plain cancellation (Ctrl-C) keeps the engine's own report.
func abortedBy(ctx context.Context, rep *wipe.Report) {
	cause := context.Cause(ctx)
	if cause == nil || errors.Is(cause, context.Canceled) || errors.Is(cause, context.DeadlineExceeded) || rep.Status == cert.StatusErased {
		return
	}
	rep.Status = cert.StatusAborted
	rep.StatusReason = cause.Error() + "; " + strings.Replace(rep.StatusReason, "stopped by the operator", "stopped", 1)
}

// write certifies one drive and writes its certificate.
func (c Certifier) write(d *devices.Device, rep *wipe.Report) (string, []byte, error) {
	if len(c.Signers) == 0 {
		return "", nil, errors.New("no signing key")
	}
	st, err := NewStatement(CertInput{Device: d, Report: rep, Personnel: c.Personnel, Host: c.Host, Tool: c.Tool})
	if err != nil {
		return "", nil, err
	}
	return WriteCertificate(c.Dir, d, st, c.Signers...)
}
