package server

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/sign"

	"github.com/lethe-project/lethe/cert"

	"github.com/lethe-project/lethe/internal/audit/store"
)

// appendixG are the export's columns: every field of the NIST SP 800-88
// Rev. 2 Appendix G sample certificate that a certificate carries
// (person performing the sanitization, media information with the asset
// tag, sanitization details, verification, destination, validation), then
// the store's own (log entry, signer, receipt time).
var appendixG = []string{
	"log_index", "certificate_id", "status", "status_reason", "disposition",
	"operator", "organization", "site", "job",
	"media_vendor", "media_model", "media_serial", "wwn", "asset_tag", "media_type", "transport", "capacity_bytes", "firmware",
	"host_serial", "hostname", "host_vendor", "host_product",
	"category", "technique", "technique_name", "method", "reference", "tool", "tool_version",
	"verification_scope", "verification_result", "verification_coverage_pct", "mismatched_sectors", "sample_seed",
	"hidden_areas", "errors", "started", "ended",
	"validation", "validated_by", "validation_comment", "validated_at",
	"received", "signer_kind", "signer_key_id",
}

// exportRow is one certificate with its statement, for the export.
type exportRow struct {
	store.Row
	St         *cert.Statement
	ValComment string
	ValAt      time.Time
}

func (s *Server) exportRows(ctx context.Context, rows []store.Row) []exportRow {
	out := make([]exportRow, 0, len(rows))
	for _, r := range rows {
		x := exportRow{Row: r}
		if c, err := s.st.Certificate(ctx, r.CertificateID); err == nil {
			x.St = c.Statement
			if n := len(c.Validations); n > 0 {
				x.ValComment, x.ValAt = c.Validations[n-1].Comment, c.Validations[n-1].Time
			}
		}
		out = append(out, x)
	}
	return out
}

func (x exportRow) record() []string {
	t := func(v time.Time) string {
		if v.IsZero() {
			return ""
		}
		return v.UTC().Format(time.RFC3339)
	}
	rec := map[string]string{
		"certificate_id": x.CertificateID, "log_index": fmt.Sprint(x.LogIndex), "status": x.Status,
		"operator": x.Operator, "organization": x.Organization, "site": x.Site, "job": x.Job,
		"media_model": x.DriveModel, "media_serial": x.DriveSerial, "wwn": x.WWN, "host_serial": x.HostSerial, "hostname": x.Hostname,
		"category": x.Category, "technique": x.Technique, "started": t(x.Started), "ended": t(x.Ended),
		"validation": x.Validation, "validated_by": x.ValidatedBy, "validation_comment": x.ValComment, "validated_at": t(x.ValAt),
		"received": x.Received.UTC().Format(time.RFC3339Nano), "signer_kind": x.SignerKind, "signer_key_id": x.SignerKeyID,
	}
	if x.St != nil {
		p := x.St.Predicate
		v := p.Verification
		seed := ""
		if v.Sample != nil {
			seed = v.Sample.Seed
		}
		hidden := p.HiddenAreas.Note
		if p.HiddenAreas.Before != "" || p.HiddenAreas.After != "" {
			hidden = strings.TrimSpace(hidden + " before: " + p.HiddenAreas.Before + "; after: " + p.HiddenAreas.After)
		}
		for k, val := range map[string]string{
			"status_reason": p.StatusReason, "disposition": p.Disposition, "media_vendor": p.Media.Vendor, "asset_tag": p.Personnel.AssetTag,
			"media_type": string(p.Media.Type), "transport": string(p.Media.Transport), "capacity_bytes": fmt.Sprint(p.Media.CapacityBytes),
			"firmware": p.Media.Firmware, "host_vendor": p.Host.SystemVendor, "host_product": p.Host.SystemProduct,
			"technique_name": p.Sanitization.TechniqueName, "method": p.Sanitization.Method.Description, "reference": p.Sanitization.Reference,
			"tool": p.Tool.Name, "tool_version": p.Tool.Version, "verification_scope": v.Scope, "verification_result": string(v.Result),
			"verification_coverage_pct": fmt.Sprint(v.Coverage), "mismatched_sectors": fmt.Sprint(v.MismatchedSectors), "sample_seed": seed,
			"hidden_areas": hidden, "errors": strings.Join(p.Errors, "; "),
		} {
			rec[k] = val
		}
	}
	out := make([]string, len(appendixG))
	for i, k := range appendixG {
		out[i] = csvSafe(rec[k]) // every column: any of them can come from a certificate
	}
	return out
}

// writeExportCSV writes the Appendix G export.
func (s *Server) writeExportCSV(ctx context.Context, w io.Writer, rows []store.Row) {
	cw := csv.NewWriter(w)
	_ = cw.Write(appendixG)
	for _, x := range s.exportRows(ctx, rows) {
		_ = cw.Write(x.record())
	}
	cw.Flush()
}

// ExportRecord is one certificate in the JSON export: the index row, the
// Appendix G fields by name, and the full statement.
type ExportRecord struct {
	store.Row
	AppendixG map[string]string `json:"appendixG"`
	Statement *cert.Statement   `json:"statement,omitempty"`
}

func (s *Server) exportJSON(ctx context.Context, rows []store.Row) []ExportRecord {
	out := []ExportRecord{}
	for _, x := range s.exportRows(ctx, rows) {
		rec := x.record()
		m := make(map[string]string, len(rec))
		for i, k := range appendixG {
			m[k] = strings.TrimPrefix(rec[i], "'")
		}
		out = append(out, ExportRecord{Row: x.Row, AppendixG: m, Statement: x.St})
	}
	return out
}

// recordRejection puts a refused submission in the audit events, so the
// events page shows who tried what and why.
func (s *Server) recordRejection(r *http.Request, err error, body []byte) {
	var re *store.RejectError
	if !errors.As(err, &re) {
		return
	}
	ids := sign.SignerKeyIDs(body)
	_ = s.st.RecordRejection(r.Context(), re.Kind, api.StatusOf(re.Kind), re.Problems, ids, remote(r))
}
