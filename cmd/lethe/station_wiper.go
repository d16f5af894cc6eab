//go:build linux

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/internal/bays"
	"github.com/lethe-project/lethe/internal/certpdf"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/durable"
	"github.com/lethe-project/lethe/internal/hotplug"
	"github.com/lethe-project/lethe/internal/station"
	"github.com/lethe-project/lethe/internal/wipe"
)

// stationWiper runs lethe wipe's pipeline (internal/station) on one
// hot-plugged drive at a time: describe and guard, probe and plan,
// execute, certify, render the PDF, deliver to the audit store.
type stationWiper struct {
	cfg     station.Config
	cert    station.Certifier
	exclude []string
	// only, when set, limits the station to drives matching one of these:
	// serial, WWN, or a glob over the slot label or a loop device's
	// backing file.
	only []string
	pdf  bool
	// printCmd, when set, prints each certificate's PDF: the command and
	// its arguments, with the PDF's path appended (e.g. "lp -d bench3").
	printCmd []string
	dlv      *station.Deliverer // nil without an audit store
	spoolDir string
	log      func(format string, args ...any)
	logger   *slog.Logger

	mu    sync.Mutex
	plans map[string]station.Drive // by name and disk sequence
}

func mediumKey(m hotplug.Medium) string { return fmt.Sprintf("%s@%d", m.Name, m.DiskSeq) }

// Identify implements bays.Wiper: the same guards and planner as lethe
// wipe, plus the station's selection and exclusions. Nothing is written.
func (w *stationWiper) Identify(ctx context.Context, m hotplug.Medium) bays.Decision {
	d, err := devices.Describe(m.Path)
	if err != nil {
		return bays.Decision{Reason: err.Error()}
	}
	dec := bays.Decision{Serial: d.Serial, Model: d.Model}
	if dec.Serial == "" {
		dec.Serial = d.WWN
	}
	if d.SizeBytes != m.SizeBytes {
		return bays.Decision{Reason: fmt.Sprintf("size changed while it was identified (%d -> %d bytes)", m.SizeBytes, d.SizeBytes)}
	}
	if len(w.only) > 0 && !matchOnly(w.only, d, m) {
		dec.Reason = "not selected by --only"
		return dec
	}
	for _, sel := range w.exclude {
		if sel != "" && (d.Serial == sel || (d.WWN != "" && strings.EqualFold(d.WWN, sel))) {
			dec.Reason = "excluded (station.exclude " + sel + ")"
			return dec
		}
	}
	var why []string
	for _, r := range devices.Check(d) {
		why = append(why, r.Detail)
	}
	if len(why) > 0 {
		dec.Reason = strings.Join(why, "; ")
		return dec
	}
	dr := station.PlanAll(ctx, []*devices.Device{d}, w.cfg)[0]
	dec.Technique = string(dr.Plan.Technique.ID)
	if dr.Plan.Refusal != "" {
		dec.Reason = dr.Plan.Refusal
		return dec
	}
	w.mu.Lock()
	w.plans[mediumKey(m)] = dr
	w.mu.Unlock()
	dec.Wipe = true
	return dec
}

// Wipe implements bays.Wiper: station.Run on one drive. Its context is
// cancelled with bays.ErrRemoved when the drive is pulled (the station saw
// the uevent, or an I/O error found the medium gone first), which makes
// the certificate ABORTED with that reason.
func (w *stationWiper) Wipe(ctx context.Context, m hotplug.Medium, progress func(wipe.Progress)) bays.Outcome {
	w.mu.Lock()
	dr, ok := w.plans[mediumKey(m)]
	delete(w.plans, mediumKey(m))
	w.mu.Unlock()
	if !ok {
		return bays.Outcome{Status: string(wipe.StatusFailed), Note: "no plan (identify first)"}
	}
	targets, err := station.OpenTargets([]*devices.Device{dr.Device}, false)
	if err != nil {
		return bays.Outcome{Status: string(wipe.StatusFailed), Note: "not opened, nothing written: " + err.Error()}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	t := &pullWatch{Target: targets[0], m: m, cancel: cancel}
	res := station.Run(ctx, []station.Drive{dr}, []wipe.Target{t}, w.cfg, w.cert, oneDrive(progress), w.logger)[0]
	out := bays.Outcome{Status: string(res.Status())}
	switch {
	case res.Report == nil:
		out.Note = fmt.Sprint(res.Err)
		return out
	case res.Report.Status != wipe.StatusErased:
		out.Note = res.Report.StatusReason
	}
	if res.CertPath == "" {
		out.Note = fmt.Sprintf("certificate NOT written: %v", res.Err)
		return out
	}
	out.Cert = res.CertPath
	if w.pdf {
		if err := writeCertPDF(res.CertPath, res.Certificate); err != nil {
			w.log("%s: PDF not written: %v", m.Name, err)
		} else if len(w.printCmd) > 0 {
			pdf := certBase(res.CertPath) + ".pdf"
			cmd := exec.Command(w.printCmd[0], append(w.printCmd[1:], pdf)...)
			if out, err := cmd.CombinedOutput(); err != nil {
				w.log("%s: printing %s failed: %v %s", m.Name, pdf, err, strings.TrimSpace(string(out)))
			} else {
				w.log("%s: printed %s", m.Name, filepath.Base(pdf))
			}
		}
	}
	out.Delivery = w.deliver(ctx, res.CertPath, res.Certificate)
	return out
}

// oneDrive is a station.Observer for one drive's progress.
type oneDrive func(wipe.Progress)

func (o oneDrive) Progress(string) func(wipe.Progress) { return o }
func (o oneDrive) Finished(station.Result)             {}

// pullWatch notices a drive that was pulled before its removal event
// arrived: an I/O error on a medium that is gone cancels the wipe with
// bays.ErrRemoved.
type pullWatch struct {
	wipe.Target
	m      hotplug.Medium
	cancel context.CancelCauseFunc
}

func (p *pullWatch) check(err error) error {
	if err != nil && !stillThere(p.m) {
		p.cancel(bays.ErrRemoved)
	}
	return err
}

func (p *pullWatch) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.Target.ReadAt(b, off)
	return n, p.check(err)
}

func (p *pullWatch) WriteAt(b []byte, off int64) (int, error) {
	n, err := p.Target.WriteAt(b, off)
	return n, p.check(err)
}

func stillThere(m hotplug.Medium) bool {
	cur, ok := hotplug.Read("/sys/block", m.Name)
	return ok && cur.DiskSeq == m.DiskSeq
}

// writeCertPDF renders BASE.pdf beside BASE.cert.json.
func writeCertPDF(certPath string, data []byte) error {
	st, err := attest.Decode(data)
	if err != nil {
		return err
	}
	_, err = writePDF(certBase(certPath)+".pdf", func(f *os.File) error {
		return certpdf.Render(f, st, certpdf.Options{Signature: "signed by this station's key (check it with lethe cert verify)"})
	})
	return err
}

// deliver hands the certificate to the deliverer and waits a while for
// its receipt, which is copied beside it as BASE.receipt.json. A store
// that is down leaves it in the spool, still being retried.
func (w *stationWiper) deliver(ctx context.Context, certPath string, data []byte) string {
	if w.dlv == nil {
		return ""
	}
	id, err := w.dlv.Add(data)
	if err != nil {
		return "NOT SPOOLED: " + err.Error()
	}
	// The context of a pulled drive is cancelled; its delivery is not.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for {
		ch := w.dlv.Changed()
		st := w.dlv.Status()
		switch st.States[id] {
		case station.Delivered:
			if err := copyReceipt(w.spoolDir, id, certPath); err != nil {
				return "sent (receipt not copied: " + err.Error() + ")"
			}
			return "sent"
		case station.Rejected:
			return "REJECTED by the audit store: " + st.Reasons[id]
		case station.Unverified:
			return "receipt does NOT verify"
		}
		if st.EnrollRefused != "" {
			return "NOT DELIVERED: enrollment refused: " + st.EnrollRefused
		}
		select {
		case <-ch:
		case <-dctx.Done():
			return "spooled, store not reached yet (still retrying)"
		}
	}
}

// copyReceipt puts the store's receipt beside the certificate.
func copyReceipt(spoolDir, id, certPath string) error {
	rc, err := os.ReadFile(filepath.Join(spoolDir, "sent", id+".receipt.json"))
	if err != nil {
		return err
	}
	return durable.WriteFile(certBase(certPath)+".receipt.json", rc, 0o644)
}

// matchOnly reports whether the drive is one --only selects.
func matchOnly(sels []string, d *devices.Device, m hotplug.Medium) bool {
	for _, sel := range sels {
		switch {
		case sel == "":
			continue
		case d.Serial != "" && d.Serial == sel, d.WWN != "" && strings.EqualFold(d.WWN, sel):
			return true
		}
		if ok, _ := filepath.Match(sel, m.Label); ok {
			return true
		}
		if d.BackingFile != "" {
			if ok, _ := filepath.Match(sel, d.BackingFile); ok {
				return true
			}
		}
	}
	return false
}
