package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lethe-project/lethe/audit/api"
	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/audit/totp"
	"github.com/lethe-project/lethe/internal/certtest"
)

// browser is a cookie-keeping HTTP client that does not follow redirects,
// so tests see each Location.
type formClient struct {
	t    *testing.T
	c    *http.Client
	base string
	csrf string
}

func newBrowser(t *testing.T, e *env) *formClient {
	jar, _ := cookiejar.New(nil)
	c := *e.ts.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &formClient{t: t, c: &c, base: e.ts.URL}
}

var csrfRE = regexp.MustCompile(`name="csrf" content="([^"]+)"`)

func (b *formClient) do(method, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		if b.csrf != "" && form.Get("csrf") == "" {
			form.Set("csrf", b.csrf)
		}
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(raw); m != nil {
		b.csrf = string(m[1])
	}
	return resp, string(raw)
}

// login logs in through the form with a TOTP code of a future time step
// (each code is accepted once; the store's clock is moved along).
func (b *formClient) login(e *env, user, pw, secret, next string) *http.Response {
	b.t.Helper()
	now := time.Now().Add(time.Duration(loginStep.Add(1)) * totp.Step)
	e.st.SetClock(func() time.Time { return now })
	code := ""
	if secret != "" {
		code, _ = totp.Code(secret, now)
	}
	resp, _ := b.do("POST", "/login", url.Values{"user": {user}, "password": {pw}, "totp": {code}, "next": {next}})
	return resp
}

// TestLoginRedirectStaysOnSite: after login the browser goes only to a
// path on this server; "/\evil.example" (which browsers read as
// "//evil.example") and other off-site forms go to "/" (issue 12 item 4).
func TestLoginRedirectStaysOnSite(t *testing.T) {
	e := newEnv(t, backends["posix-sqlite"](t).config(t))
	ctx := context.Background()
	if _, err := e.st.CreateUser(ctx, "olga", "Operator-Pw1", accounts.Operator, store.Actor{Name: "t"}); err != nil {
		t.Fatal(err)
	}
	for next, want := range map[string]string{
		`/\evil.example`:            "/",
		`/\/evil.example`:           "/",
		`//evil.example`:            "/",
		`https://evil.example/`:     "/",
		"/%5Cevil.example":          "/%5Cevil.example", // stays a path on this server
		"/\t/evil.example":          "/",
		"javascript:alert(1)":       "/",
		"/certificates/x?serial=1":  "/certificates/x?serial=1",
		"/?serial=WEB-1&status=ERA": "/?serial=WEB-1&status=ERA",
	} {
		b := newBrowser(t, e)
		resp, _ := b.do("POST", "/login", url.Values{"user": {"olga"}, "password": {"Operator-Pw1"}, "next": {next}})
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || loc != want {
			t.Errorf("next=%q: %d Location %q, want %q", next, resp.StatusCode, loc, want)
		}
		if u, err := url.Parse(loc); err != nil || u.Host != "" || strings.Contains(loc, `\`) {
			t.Errorf("next=%q: redirect %q leaves the site", next, loc)
		}
		// The login form carries next through unharmed too.
		_, page := b.do("GET", "/login?next="+url.QueryEscape(next), nil)
		if strings.Contains(page, `value="`+strings.ReplaceAll(next, `\`, `\`)+`"`) && want == "/" && next != "/" {
			t.Errorf("login form keeps off-site next %q", next)
		}
	}
}

var secretRE = regexp.MustCompile(`(lapi_|lenr_|secret=)[A-Za-z0-9_-]+`)

// TestAdminSecretsOnlyInTheBody: new TOTP secrets, API tokens and
// enrollment tokens are shown once in the response body and never travel
// in a URL (a redirect's Location lands in browser history) (issue 12
// item 5).
func TestAdminSecretsOnlyInTheBody(t *testing.T) {
	e := newEnv(t, backends["posix-sqlite"](t).config(t))
	b := newBrowser(t, e)
	if resp := b.login(e, e.ia.User, e.ia.Password, e.ia.TOTPSecret, "/admin"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("admin login: %d", resp.StatusCode)
	}
	if _, page := b.do("GET", "/admin", nil); !strings.Contains(page, "Administration") {
		t.Fatalf("admin page: %.300s", page)
	}
	for _, c := range []struct {
		path string
		form url.Values
		want *regexp.Regexp
	}{
		{"/admin/user", url.Values{"name": {"audra"}, "password": {"Auditor-Pw1"}, "role": {"auditor"}}, regexp.MustCompile(`id="secret">[A-Z2-7]{16,}<`)},
		{"/admin/api-token", url.Values{"user": {"audra"}, "tokenname": {"ci"}, "ttl": {"24h"}}, regexp.MustCompile(`lapi_[A-Za-z0-9_-]{20,}`)},
		{"/admin/enrollment-token", url.Values{"job": {"J-1"}, "ttl": {"1h"}, "uses": {"2"}}, regexp.MustCompile(`lenr_[A-Za-z0-9_-]{20,}`)},
		{"/admin/totp", url.Values{"name": {"audra"}}, regexp.MustCompile(`id="secret">[A-Z2-7]{16,}<`)},
	} {
		resp, page := b.do("POST", c.path, c.form)
		if loc := resp.Header.Get("Location"); loc != "" || secretRE.MatchString(loc) {
			t.Errorf("%s: redirected to %q; a secret must not travel in a URL", c.path, loc)
		}
		if resp.StatusCode != http.StatusOK || !c.want.MatchString(page) {
			t.Errorf("%s: %d, the new secret is not in the body: %.400s", c.path, resp.StatusCode, page)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: a page with a secret may be cached: %q", c.path, resp.Header.Get("Cache-Control"))
		}
		if strings.Contains(c.path, "user") || strings.Contains(c.path, "totp") {
			if !strings.Contains(page, `id="totp-qr" src="data:image/png;base64,`) {
				t.Errorf("%s: no TOTP QR code", c.path)
			}
		}
		// Shown once: the next view of the page has no secret.
		if _, again := b.do("GET", "/admin", nil); c.want.MatchString(again) {
			t.Errorf("%s: the secret is shown again", c.path)
		}
	}
}

// TestInitialPasswordMustChange: an account whose password someone else
// set may do nothing but change it; afterwards it works normally and the
// first admin's credentials file is gone.
func TestInitialPasswordMustChange(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, backends["posix-sqlite"](t).config(t))
	b := newBrowser(t, e)
	b.login(e, e.ia.User, e.ia.Password, e.ia.TOTPSecret, "/")
	b.do("GET", "/admin", nil)
	resp, page := b.do("POST", "/admin/user", url.Values{"name": {"newadmin"}, "password": {"Initial-Pw1"}, "role": {"admin"}})
	m := regexp.MustCompile(`id="secret">([A-Z2-7]+)<`).FindStringSubmatch(page)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("create admin: %d %.300s", resp.StatusCode, page)
	}
	nb := newBrowser(t, e)
	if resp := nb.login(e, "newadmin", "Initial-Pw1", m[1], "/admin"); resp.Header.Get("Location") != "/account" {
		t.Fatalf("first login went to %q, want /account", resp.Header.Get("Location"))
	}
	for _, p := range []string{"/admin", "/", "/events"} {
		if resp, _ := nb.do("GET", p, nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account" {
			t.Errorf("%s before the password change: %d %q", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if _, page := nb.do("GET", "/account", nil); !strings.Contains(page, `id="must-change"`) {
		t.Errorf("account page does not say the password must change")
	}
	if resp, _ := nb.do("POST", "/account/password", url.Values{"old": {"Initial-Pw1"}, "new": {"Initial-Pw1"}, "new2": {"Initial-Pw1"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("the same password again: %d", resp.StatusCode)
	}
	if resp, _ := nb.do("POST", "/account/password", url.Values{"old": {"Initial-Pw1"}, "new": {"Own-Choice-2"}, "new2": {"Own-Choice-2"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("password change: %d", resp.StatusCode)
	}
	if resp, page := nb.do("GET", "/admin", nil); resp.StatusCode != 200 || !strings.Contains(page, "Administration") {
		t.Fatalf("after the change: %d", resp.StatusCode)
	}
	if must, _ := e.st.Accounts.MustChangePassword(ctx, "newadmin"); must {
		t.Fatal("still must change")
	}
	if must, _ := e.st.Accounts.MustChangePassword(ctx, "admin"); must {
		t.Fatal("the first admin (changed in newEnv) still must change")
	}
}

// loginStep moves each form login to its own TOTP time step.
var loginStep atomic.Int64

// TestAdminAPIResetsAndEnrollmentTokens: the admin API offers what the
// admin page does: a new TOTP secret, passkeys revoked, enrollment tokens
// listed and revoked (a revoked token no longer enrolls).
func TestAdminAPIResetsAndEnrollmentTokens(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, backends["posix-sqlite"](t).config(t))
	if _, err := e.st.CreateUser(ctx, "audra", "Auditor-Pw1", accounts.Auditor, store.Actor{Name: "t"}); err != nil {
		t.Fatal(err)
	}
	var reset api.User
	if err := e.admin.Do(ctx, "POST", "/v1/admin/users/audra/totp", nil, &reset); err != nil || len(reset.TOTPSecret) < 16 || !strings.HasPrefix(reset.TOTPURI, "otpauth://") {
		t.Fatalf("TOTP reset: %v %+v", err, reset)
	}
	if u, _ := e.st.Accounts.Get(ctx, "audra"); u.TOTPSecret != reset.TOTPSecret {
		t.Fatal("the new secret is not the account's")
	}
	var n map[string]int
	if err := e.admin.Do(ctx, "POST", "/v1/admin/users/audra/passkeys/revoke", nil, &n); err != nil || n["revoked"] != 0 {
		t.Fatalf("passkey reset: %v %v", err, n)
	}
	tok, err := e.admin.CreateEnrollmentToken(ctx, "J-REV", time.Hour, 3)
	if err != nil {
		t.Fatal(err)
	}
	var list []api.EnrollmentToken
	if err := e.admin.Do(ctx, "GET", "/v1/admin/enrollment-tokens", nil, &list); err != nil || len(list) != 1 || list[0].Job != "J-REV" || list[0].MaxUses != 3 {
		t.Fatalf("enrollment tokens: %v %+v", err, list)
	}
	if err := e.admin.Do(ctx, "POST", "/v1/admin/enrollment-tokens/"+list[0].ID+"/revoke", nil, nil); err != nil {
		t.Fatal(err)
	}
	pub, _ := newKey(t)
	if _, err := e.anon.Enroll(ctx, tok.Token, pub); err == nil {
		t.Fatal("a revoked enrollment token enrolled a key")
	}
}

// TestExportAppendixG: the CSV and JSON exports carry every Appendix G
// field the certificate has, the asset tag included, and defuse
// spreadsheet formulas in every column.
func TestExportAppendixG(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, backends["posix-sqlite"](t).config(t))
	pub, key := newKey(t)
	if _, err := e.st.AddStationKey(ctx, "x", pub, store.Actor{Name: "t"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.st.Ingest(ctx, store.Submission{Envelope: certtest.MustSign(key, certtest.Drive{Serial: "EXP-1", AssetTag: "AT-77", Operator: "=HYPERLINK(\"x\")", Job: "J-EXP"})}); err != nil {
		t.Fatal(err)
	}
	var csvBody []byte
	if err := e.admin.Do(ctx, "GET", "/v1/certificates?format=csv", nil, &csvBody); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(csvBody)).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("CSV: %v\n%s", err, csvBody)
	}
	col := map[string]string{}
	for i, h := range recs[0] {
		col[h] = recs[1][i]
	}
	for k, want := range map[string]string{"asset_tag": "AT-77", "media_serial": "EXP-1", "operator": `'=HYPERLINK("x")`, "organization": "Example Org",
		"media_model": "TESTDISK 1TB", "category": "clear", "verification_scope": "full", "verification_result": "passed", "tool": "lethe",
		"status": "ERASED", "disposition": "reuse", "validation": "pending", "job": "J-EXP", "media_type": "ssd"} {
		if col[k] != want {
			t.Errorf("CSV column %s = %q, want %q", k, col[k], want)
		}
	}
	for _, k := range appendixG {
		if _, ok := col[k]; !ok {
			t.Errorf("CSV lacks column %s", k)
		}
	}
	var j struct {
		Certificates []ExportRecord `json:"certificates"`
	}
	if err := e.admin.Do(ctx, "GET", "/v1/certificates?format=json", nil, &j); err != nil || len(j.Certificates) != 1 || j.Certificates[0].AppendixG["asset_tag"] != "AT-77" {
		t.Fatalf("JSON export: %v %+v", err, j)
	}
}

// TestHostsFilter: the hosts view groups by server and its text filter
// matches host serial, hostname or job.
func TestHostsFilter(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, backends["posix-sqlite"](t).config(t))
	pub, key := newKey(t)
	if _, err := e.st.AddStationKey(ctx, "x", pub, store.Actor{Name: "t"}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []certtest.Drive{
		{Serial: "H-1", HostSerial: "HOST-A", Job: "J-1"},
		{Serial: "H-2", HostSerial: "HOST-A", Job: "J-1"},
		{Serial: "H-3", HostSerial: "HOST-B", Job: "J-2"},
	} {
		if _, _, err := e.st.Ingest(ctx, store.Submission{Envelope: certtest.MustSign(key, d)}); err != nil {
			t.Fatal(err)
		}
	}
	for text, want := range map[string][]string{"": {"HOST-B", "HOST-A"}, "HOST-A": {"HOST-A"}, "J-2": {"HOST-B"}, "nothing": nil} {
		rows, total, err := e.st.Hosts(ctx, text, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r.HostSerial)
		}
		if !slices.Equal(got, want) || total != len(want) {
			t.Errorf("Hosts(%q) = %v (total %d), want %v", text, got, total, want)
		}
		if text == "HOST-A" && (rows[0].Certificates != 2 || rows[0].Drives != 2) {
			t.Errorf("HOST-A: %+v, want 2 certificates of 2 drives", rows[0])
		}
	}
}
