//go:build linux

package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/wipe"
)

func newVerifyCmd() *cobra.Command {
	var expect, certPath, seedHex, progress string
	var keyPaths []string
	var samplePercent float64
	var chunkMiB, workers, showRanges int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify (--expect zero|one|0xHEX | --cert CERT --key PUB) [--sample-percent N] DEVICE",
		Short: "Read a device back and check it holds the expected pattern; writes nothing",
		Long: `Read DEVICE back, bypassing the page cache, and compare every byte (or a
NIST-style sample with --sample-percent) with the expected content: a fixed
pattern (--expect), or the last verified pass recorded in a certificate
(--cert, which regenerates a random pass from its recorded key and IV).
With --cert, DEVICE must be the certificate's subject: its identity
(vendor, model, serial, WWN, firmware, transport, size, and for a loop
device or image file the backing file, offset and size limit) is compared
with the certificate's first, and a mismatch is refused with both printed.
Exit status 0 when it matches, 1 when it does not or the device is not the
certificate's.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var pattern wipe.Pattern
			var err error
			var certified *devices.Identity // the certificate's subject, with --cert
			switch {
			case expect != "" && certPath != "":
				return usageErr("give --expect or --cert, not both")
			case expect != "":
				if expect == "random" {
					return usageErr("--expect random cannot be checked without its key: use --cert CERT")
				}
				if pattern, err = wipe.ParsePattern(expect); err != nil {
					return usageErr("--expect: %v", err)
				}
			case certPath != "":
				keys, err := loadKeys(keyPaths)
				if err != nil {
					return err
				}
				v, err := attest.ReadFile(certPath, keys...)
				if err != nil {
					return usageErr("--cert %s: %v", certPath, err)
				}
				passes := v.Statement.Predicate.Sanitization.Passes
				if len(passes) == 0 {
					return usageErr("--cert %s records no overwrite pass", certPath)
				}
				if pattern, err = wipe.PatternFromSpec(passes[len(passes)-1].Pattern); err != nil {
					return usageErr("--cert %s: %v", certPath, err)
				}
				certified = &v.Statement.Predicate.Identity
			default:
				return usageErr("--expect PATTERN or --cert CERT is required")
			}
			var seed []byte
			if seedHex != "" {
				if seed, err = hex.DecodeString(seedHex); err != nil || len(seed) != 32 {
					return usageErr("--sample-seed: want 64 hex digits")
				}
			}
			if cmd.Flags().Changed("sample-percent") {
				if err := wipe.CheckSamplePercent(samplePercent); err != nil {
					return usageErr("--sample-percent: %v", err)
				}
			}
			d, err := devices.Describe(args[0])
			if err != nil {
				return err
			}
			if d.Kind == devices.KindPartition {
				return &devices.Refusal{Device: d.Path, Reason: devices.ReasonPartition, Detail: "is a partition of " + d.Parent + "; verify the whole drive"}
			}
			if certified != nil {
				// The pattern proves nothing about a device that is not
				// the certificate's: another drive, another file, another
				// window of a file, or the same one resized.
				if diffs := identityDiff(*certified, d.Identity()); len(diffs) > 0 {
					out := cmd.OutOrStdout()
					fmt.Fprintf(out, "%s is not the device certified by %s:\n", d.Path, certPath)
					for _, x := range diffs {
						fmt.Fprintf(out, "  %s\n", x)
					}
					fmt.Fprintf(out, "  certificate's subject: %s\n", identityLine(*certified))
					fmt.Fprintf(out, "  device:                %s\n", identityLine(d.Identity()))
					return failed("%s is not the device %s certifies; nothing was read", d.Path, certPath)
				}
			}
			// Reading is safe on a busy device; open it shared and read-only.
			t, err := wipe.Open(d.Path, wipe.OpenOptions{Shared: true, ReadOnly: true})
			if err != nil {
				return err
			}
			defer t.Close()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ui, err := newProgressUI(progress)
			if err != nil {
				return err
			}
			if chunkMiB <= 0 || chunkMiB > 256 || workers <= 0 || workers > 64 {
				return usageErr("--chunk-mib must be 1..256 and --workers 1..64")
			}
			rep, err := wipe.Verify(ctx, wipe.VerifyJob{Target: t, Expected: pattern, SamplePercent: samplePercent, SampleSeed: seed,
				IO: wipe.IOOptions{ChunkBytes: chunkMiB << 20, Workers: workers}, Progress: ui.Progress(d.Path)})
			if err != nil {
				return err
			}
			ui.finish(d.Path, string(rep.Result))
			ui.Close()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: %s read-back against %s: %s\n", d.Path, rep.Scope, rep.Expected.Name, rep.Result)
			fmt.Fprintf(out, "  read %s (%.2f%% of %s), page cache bypassed: %v\n", devices.HumanBytes(rep.Bytes), rep.Coverage, devices.HumanBytes(d.SizeBytes), rep.Direct)
			if rep.Sample != nil {
				fmt.Fprintf(out, "  sample %s seed %s: %d units of %d bytes in %d subsections\n", rep.Sample.Algorithm, rep.Sample.Seed, rep.Sample.Units, rep.Sample.UnitBytes, rep.Sample.Subsection)
			}
			if asJSON {
				if err := writeJSON(out, rep); err != nil {
					return err
				}
			} else {
				if rep.MismatchedSectors == 0 && len(rep.Unreadable) == 0 {
					fmt.Fprintln(out, "  every sector read holds the expected content")
				}
				writeRangeSummary(out, "mismatched", rep.Mismatched, rep.MismatchedSectors, t.SectorSize(), rep.Bytes, showRanges)
				writeRangeSummary(out, "unreadable", rep.Unreadable, 0, t.SectorSize(), 0, showRanges)
			}
			if rep.Result != wipe.VerifyPassed {
				return failed("%s does not hold the expected content", d.Path)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&expect, "expect", "", "expected content: zero, one or 0xHEX")
	fl.StringVar(&certPath, "cert", "", "check against the last pass recorded in this certificate")
	fl.StringSliceVar(&keyPaths, "key", nil, "with --cert: the public key the certificate must be signed with")
	fl.Float64Var(&samplePercent, "sample-percent", 0, "read a NIST-style sample of N percent instead of every byte")
	fl.StringVar(&seedHex, "sample-seed", "", "32-byte hex seed for the sampled positions (random if empty)")
	fl.StringVar(&progress, "progress", "auto", "progress display: auto, bar, log, none")
	fl.IntVar(&chunkMiB, "chunk-mib", 4, "I/O size in MiB")
	fl.IntVar(&workers, "workers", 4, "I/Os in flight")
	fl.IntVar(&showRanges, "ranges", 5, "how many mismatched or unreadable LBA ranges to list")
	fl.BoolVar(&asJSON, "json", false, "print the verification report as JSON (every recorded range) after the summary line")
	return cmd
}

// identityDiff lists the fields in which a device's identity differs from
// a certificate's subject. The raw IDENTIFY data is not compared: lethe
// records it where it read it, and a fresh description does not read it.
func identityDiff(cert, dev devices.Identity) []string {
	var out []string
	cmp := func(field string, a, b any) {
		if a != b {
			out = append(out, fmt.Sprintf("%s: certificate %q, device %q", field, fmt.Sprint(a), fmt.Sprint(b)))
		}
	}
	cmp("vendor", cert.Vendor, dev.Vendor)
	cmp("model", cert.Model, dev.Model)
	cmp("serial", cert.Serial, dev.Serial)
	cmp("wwn", cert.WWN, dev.WWN)
	cmp("firmware", cert.Firmware, dev.Firmware)
	cmp("transport", cert.Transport, dev.Transport)
	cmp("sizeBytes", cert.SizeBytes, dev.SizeBytes)
	cmp("backingFile", cert.BackingFile, dev.BackingFile)
	cmp("backingOffset", cert.BackingOffset, dev.BackingOffset)
	cmp("backingSizeLimit", cert.BackingSizeLimit, dev.BackingSizeLimit)
	return out
}

// identityLine is an identity as one line of JSON, without the raw
// IDENTIFY data, for printing both sides of a mismatch.
func identityLine(id devices.Identity) string {
	id.RawIdentify = nil
	b, err := json.Marshal(id)
	if err != nil {
		return fmt.Sprintf("%+v", id)
	}
	return string(b)
}
