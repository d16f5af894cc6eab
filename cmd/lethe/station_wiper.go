package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/internal/bays"
	"github.com/lethe-project/lethe/internal/certpdf"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/durable"
	"github.com/lethe-project/lethe/internal/hotplug"
	"github.com/lethe-project/lethe/internal/wipe"
)

// stationWiper is lethe wipe's pipeline for one hot-plugged drive at a
// time: describe and guard, probe and plan, execute, certify, render the
// PDF, deliver to the audit store.
type stationWiper struct {
	f       wipeFlags
	req     wipe.Request
	verify  wipe.VerifyMode
	key     ed25519.PrivateKey
	host    devices.HostIdentity
	exclude []string
	// only, when set, limits the station to drives matching one of these:
	// serial, WWN, or a glob over the slot label or a loop device's
	// backing file.
	only   []string
	pdf    bool
	spool  *client.Spool // nil without an audit store
	token  string
	audit  *client.Client
	enroll sync.Once
	log    func(format string, args ...any)

	mu    sync.Mutex
	plans map[string]planned // by name and disk sequence
}

func mediumKey(m hotplug.Medium) string { return fmt.Sprintf("%s@%d", m.Name, m.DiskSeq) }

// Identify implements bays.Wiper: the same guards and planner as lethe
// wipe, plus the station's exclusions. Nothing is written.
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
	p := planAll(ctx, []*devices.Device{d}, w.req, w.f.firmware())[0]
	dec.Technique = string(p.plan.Technique.ID)
	if p.plan.Refusal != "" {
		dec.Reason = p.plan.Refusal
		return dec
	}
	w.mu.Lock()
	w.plans[mediumKey(m)] = p
	w.mu.Unlock()
	dec.Wipe = true
	return dec
}

// Wipe implements bays.Wiper.
func (w *stationWiper) Wipe(ctx context.Context, m hotplug.Medium, progress func(wipe.Progress)) bays.Outcome {
	w.mu.Lock()
	p, ok := w.plans[mediumKey(m)]
	delete(w.plans, mediumKey(m))
	w.mu.Unlock()
	if !ok {
		return bays.Outcome{Status: string(wipe.StatusFailed), Note: "no plan (identify first)"}
	}
	targets, err := openTargets([]*devices.Device{p.dev}, false)
	if err != nil {
		return bays.Outcome{Status: string(wipe.StatusFailed), Note: "not opened, nothing written: " + err.Error()}
	}
	t := targets[0]
	fo := w.f.firmware()
	fo.Notify = func(msg string) { w.log("%s: %s", m.Name, msg) }
	rep, err := wipe.Execute(ctx, p.dev, t, p.plan, wipe.ExecOptions{
		Verify: w.verify, SamplePercent: w.f.samplePercent,
		IO:       wipe.IOOptions{ChunkBytes: w.f.chunkMiB << 20, Workers: w.f.workers},
		Progress: progress, Firmware: fo,
	})
	t.Close()
	if err != nil {
		return bays.Outcome{Status: string(wipe.StatusFailed), Note: err.Error()}
	}
	// A drive pulled out during its wipe was not erased, whatever the I/O
	// errors it left behind say: the certificate says ABORTED (re-sanitize).
	if errors.Is(context.Cause(ctx), bays.ErrRemoved) || !stillThere(m) {
		rep.Status = wipe.StatusAborted
		rep.StatusReason = bays.ErrRemoved.Error() + "; " + strings.Replace(rep.StatusReason, "stopped by the operator", "stopped", 1)
	}
	out := bays.Outcome{Status: string(rep.Status)}
	if rep.Status != wipe.StatusErased {
		out.Note = rep.StatusReason
	}
	path, err := writeCertificate(w.f.certDir, p.dev, rep, w.f.personnel, w.host, attest.KeySigner{Key: w.key})
	if err != nil {
		out.Note = "certificate NOT written: " + err.Error()
		return out
	}
	out.Cert = path
	if w.pdf {
		if err := writeCertPDF(path); err != nil {
			w.log("%s: PDF not written: %v", m.Name, err)
		}
	}
	out.Delivery = w.deliver(ctx, path)
	return out
}

func stillThere(m hotplug.Medium) bool {
	cur, ok := hotplug.Read("/sys/block", m.Name)
	return ok && cur.DiskSeq == m.DiskSeq
}

// writeCertPDF renders BASE.pdf beside BASE.cert.json.
func writeCertPDF(certPath string) error {
	data, err := os.ReadFile(certPath)
	if err != nil {
		return err
	}
	st, err := attest.Decode(data)
	if err != nil {
		return err
	}
	_, err = writePDF(certBase(certPath)+".pdf", func(f *os.File) error {
		return certpdf.Render(f, st, certpdf.Options{Signature: "signed by this station's key (verify with lethe cert verify)"})
	})
	return err
}

// deliver spools the certificate and tries to submit it for a while; the
// receipt is copied beside the certificate as BASE.receipt.json.
func (w *stationWiper) deliver(ctx context.Context, certPath string) string {
	if w.spool == nil {
		return ""
	}
	data, err := os.ReadFile(certPath)
	if err != nil {
		return "NOT SPOOLED: " + err.Error()
	}
	it, err := w.spool.Add(data)
	if err != nil {
		return "NOT SPOOLED: " + err.Error()
	}
	// The context of a pulled drive is cancelled; delivery is not.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if strings.HasPrefix(w.token, "lenr_") {
		w.enroll.Do(func() {
			if _, err := w.audit.Enroll(dctx, w.token, w.key.Public().(ed25519.PublicKey)); err != nil {
				w.log("audit: enrollment: %v", err)
			}
		})
	}
	res, err := w.spool.FlushRetry(dctx, client.Retry{Initial: 500 * time.Millisecond, Max: 5 * time.Second})
	if err != nil {
		return "spooled (" + err.Error() + ")"
	}
	for _, r := range res.Rejected {
		if r.ID == it.ID {
			return "REJECTED: " + r.Err.Error()
		}
	}
	rp := filepath.Join(w.spool.Dir(), "sent", it.ID+".receipt.json")
	if rc, err := os.ReadFile(rp); err == nil {
		if err := durable.WriteFile(certBase(certPath)+".receipt.json", rc, 0o644); err != nil {
			return "sent (receipt not copied: " + err.Error() + ")"
		}
		return "sent"
	}
	return "spooled, store unreachable: lethe audit flush later"
}

// matchOnly reports whether the drive is one --only selects.
func matchOnly(sels []string, d *devices.Device, m hotplug.Medium) bool {
	for _, sel := range sels {
		switch {
		case sel == "":
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
