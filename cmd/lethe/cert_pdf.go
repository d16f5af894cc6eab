package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/certpdf"
	"github.com/lethe-project/lethe/internal/durable"
	"github.com/lethe-project/lethe/sign"
)

// certBase is a certificate's file name without ".cert.json" (or ".json"):
// its PDF and its receipt sit beside it as BASE.pdf and BASE.receipt.json.
func certBase(path string) string {
	for _, ext := range []string{".cert.json", ".json"} {
		if b, ok := strings.CutSuffix(path, ext); ok {
			return b
		}
	}
	return path
}

// loadedCert is a certificate read for rendering.
type loadedCert struct {
	path     string
	st       *cert.Statement
	sig      string
	verified bool
	sha256   string // of the file, so that the paper ties to one JSON file
}

// loadCertForPDF reads a certificate (capped, strictly) and checks its
// signature with keys; without keys it decodes it for an UNVERIFIED PDF.
func loadCertForPDF(path string, keys []ed25519.PublicKey) (loadedCert, error) {
	data, err := sign.ReadFile(path)
	if err != nil {
		return loadedCert{}, usageErr("%v", err)
	}
	sum := sha256.Sum256(data)
	c := loadedCert{path: path, sha256: hex.EncodeToString(sum[:])}
	if len(keys) > 0 {
		v, err := attest.Verify(data, keys...)
		if err != nil {
			return loadedCert{}, failed("%s does not verify: %v", path, err)
		}
		c.st, c.sig, c.verified = v.Statement, "valid ed25519 signature by key "+v.KeyID, true
		return c, nil
	}
	if c.st, err = attest.Decode(data); err != nil {
		return loadedCert{}, usageErr("%s: %v", path, err)
	}
	c.sig = "not checked (rendered with --unverified)"
	return c, nil
}

func newCertPDFCmd() *cobra.Command {
	var out, outDir, pageURL, hostReport, inventory string
	var keyPaths []string
	var unverifiedOK bool
	cmd := &cobra.Command{
		Use:   "pdf (--key PUB | --unverified) [-o FILE | --out-dir DIR | --host-report FILE [--inventory JSON]] CERT...",
		Short: "Render certificates as PDFs for people, or one host report for a server (the JSON stays authoritative)",
		Long: `Render each certificate as a PDF beside it (BASE.cert.json -> BASE.pdf), or
into --out-dir, or to -o FILE for a single certificate.

--host-report FILE writes one PDF for one server instead: its SMBIOS
identity, how many drives were found, erased, not erased and not wiped, a
line per drive and each certificate's key facts. All certificates must come
from the same host. --inventory takes the output of 'lethe devices --json'
taken on that host: drives in it without a certificate are listed as found
but not wiped, with the reason they were refused.

With --key each signature is checked first and a certificate that does not
verify is refused (exit 1). Without a key a PDF would look like a valid
certificate, so lethe refuses (exit 2) unless --unverified is given: then
every page and line is stamped UNVERIFIED and no status is shown in green.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case out != "" && len(args) > 1:
				return usageErr("-o names one PDF: with %d certificates use --out-dir DIR (or none: each PDF goes beside its certificate)", len(args))
			case out != "" && outDir != "":
				return usageErr("give -o FILE or --out-dir DIR, not both")
			case hostReport != "" && (out != "" || outDir != ""):
				return usageErr("--host-report writes one PDF; it does not combine with -o or --out-dir")
			case inventory != "" && hostReport == "":
				return usageErr("--inventory only applies with --host-report")
			}
			if len(keyPaths) == 0 && !unverifiedOK {
				return usageErr("refusing to render without checking signatures: pass --key PUB (or --unverified for PDFs stamped UNVERIFIED on every page)")
			}
			var keys []ed25519.PublicKey
			if len(keyPaths) > 0 {
				var err error
				if keys, err = loadKeys(keyPaths); err != nil {
					return err
				}
			}
			var certs []loadedCert
			for _, p := range args {
				c, err := loadCertForPDF(p, keys)
				if err != nil {
					return err
				}
				certs = append(certs, c)
			}
			w := cmd.OutOrStdout()
			if hostReport != "" {
				ds, err := reportDrives(certs, inventory)
				if err != nil {
					return err
				}
				path, err := writePDF(hostReport, func(f *os.File) error {
					return certpdf.RenderHostReport(f, ds, certpdf.ReportOptions{})
				})
				if errors.Is(err, certpdf.ErrManyHosts) {
					return usageErr("%v: a host report covers one server", err)
				}
				if err != nil {
					return err
				}
				c := certpdf.Counts(ds)
				fmt.Fprintf(w, "host report: %s (%d drive(s) found, %d erased, %d not erased, %d not wiped)\n", path, c.Found, c.Erased, c.NotErased, c.NotWiped)
				return nil
			}
			if outDir != "" {
				if err := os.MkdirAll(outDir, 0o755); err != nil {
					return usageErr("--out-dir: %v", err)
				}
			}
			for _, c := range certs {
				dst := out
				switch {
				case dst != "":
				case outDir != "":
					dst = filepath.Join(outDir, filepath.Base(certBase(c.path))+".pdf")
				default:
					dst = certBase(c.path) + ".pdf"
				}
				path, err := writePDF(dst, func(f *os.File) error {
					return certpdf.Render(f, c.st, certpdf.Options{URL: pageURL, Signature: c.sig, Verified: c.verified, EnvelopeSHA256: c.sha256})
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "%s: %s\n", c.path, path)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "PDF file to write (one certificate)")
	cmd.Flags().StringVar(&outDir, "out-dir", "", "directory for the PDFs (default: beside each certificate)")
	cmd.Flags().StringVar(&hostReport, "host-report", "", "write one host report PDF for all the certificates (one server)")
	cmd.Flags().StringVar(&inventory, "inventory", "", "with --host-report: 'lethe devices --json' output of the host, to list drives found but not wiped")
	cmd.Flags().StringVar(&pageURL, "url", "", "link to the certificate's page (shown as a QR code)")
	cmd.Flags().StringSliceVar(&keyPaths, "key", nil, "verify each signature first with this public key")
	cmd.Flags().BoolVar(&unverifiedOK, "unverified", false, "render without checking signatures, every page and line stamped UNVERIFIED")
	return cmd
}

// writePDF renders into a temporary file and renames it into place (a
// half-written PDF never sits under the final name), and returns the
// absolute path.
func writePDF(path string, render func(*os.File) error) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Dir(abs), ".lethe-pdf-*")
	if err != nil {
		return "", usageErr("%v", err)
	}
	defer os.Remove(f.Name())
	if err := render(f); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(f.Name(), abs); err != nil {
		return "", err
	}
	return abs, durable.SyncDir(filepath.Dir(abs))
}

// reportDrives pairs certificates with an optional inventory: inventory
// drives no certificate names (by serial, else by path) are found but not
// wiped.
func reportDrives(certs []loadedCert, inventory string) ([]certpdf.ReportDrive, error) {
	var ds []certpdf.ReportDrive
	covered := map[string]bool{}
	for _, c := range certs {
		ds = append(ds, certpdf.ReportDrive{Cert: c.st, File: c.path, Signature: c.sig, Verified: c.verified})
		m := c.st.Predicate.Media
		covered["serial "+m.Serial] = m.Serial != ""
		covered["path "+m.Path] = true
	}
	if inventory == "" {
		return ds, nil
	}
	data, err := os.ReadFile(inventory)
	if err != nil {
		return nil, usageErr("--inventory: %v", err)
	}
	// The fields of `lethe devices --json` the report uses (it may be
	// taken on the host, and read anywhere).
	var inv []struct {
		Path      string `json:"path"`
		Model     string `json:"model"`
		Serial    string `json:"serial"`
		SizeBytes int64  `json:"sizeBytes"`
		Refusals  []struct {
			Detail string `json:"detail"`
		} `json:"refusals"`
	}
	if err := json.Unmarshal(data, &inv); err != nil {
		return nil, usageErr("--inventory %s: not the output of lethe devices --json: %v", inventory, err)
	}
	for _, v := range inv {
		if v.Path == "" || covered["serial "+v.Serial] || (v.Serial == "" && covered["path "+v.Path]) {
			continue
		}
		why := "no certificate among those given"
		if len(v.Refusals) > 0 {
			var rs []string
			for _, r := range v.Refusals {
				rs = append(rs, r.Detail)
			}
			why = "refused: " + strings.Join(rs, "; ")
		}
		ds = append(ds, certpdf.ReportDrive{Device: v.Path, Model: v.Model, Serial: v.Serial, SizeBytes: v.SizeBytes, NotWiped: why})
	}
	return ds, nil
}
