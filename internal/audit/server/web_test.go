package server

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/sign"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/passkey"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/audit/totp"
	"github.com/lethe-project/lethe/internal/certtest"
	"github.com/lethe-project/lethe/internal/testutil"
)

// chromiumFlags are what a closed network needs: nothing phones home.
func chromiumFlags(t *testing.T, exe string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.Flag("ignore-certificate-errors", true), // the test server's certificate is self-signed
		chromedp.WindowSize(1280, 900),
	}
}

// ui drives one browser tab against the test server.
type ui struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string // screenshots
}

func (u *ui) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	u.t.Helper()
	if err := chromedp.Do(u.ctx, actions...); err != nil {
		u.t.Fatalf("%s: %v", what, err)
	}
}

func (u *ui) text(sel string) string {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		u.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// waitText waits until sel's text contains want (a click starts a
// navigation; the old page stays until the new one replaces it).
func (u *ui) waitText(sel, want string) string {
	u.t.Helper()
	var got string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(u.ctx, 2*time.Second)
		got, _ = chromedp.Run(ctx, chromedp.Text(sel))
		cancel()
		if strings.Contains(got, want) {
			return got
		}
	}
	u.t.Fatalf("%s: %q, want it to contain %q", sel, got, want)
	return got
}

// shot saves a screenshot of the page and checks what Chromium rendered:
// the PNG is 1280 px wide and not blank, the page is no wider than the
// window, and the page printed by Chromium to PDF, read back with
// pdftotext, contains every key text.
func (u *ui) shot(name string, texts ...string) {
	u.t.Helper()
	width := u.eval(`Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)`)
	if width > 1280 {
		u.t.Errorf("%s: page is %d px wide in a 1280 px window", name, width)
	}
	shot, err := chromedp.Run(u.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		u.t.Fatalf("%s: screenshot: %v", name, err)
	}
	p := filepath.Join(u.dir, name+".png")
	if err := os.WriteFile(p, shot, 0o644); err != nil {
		u.t.Fatal(err)
	}
	img, err := png.Decode(strings.NewReader(string(shot)))
	if err != nil {
		u.t.Fatalf("%s: screenshot: %v", name, err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || inked(img) < 500 {
		u.t.Errorf("%s: screenshot %dx%d with %d dark samples", name, b.Dx(), b.Dy(), inked(img))
	}
	yes := true
	res, err := chromedp.Run(u.ctx, func(ctx context.Context, t *chromedp.Target) (page.PrintToPDFResult, error) {
		return cdp.Call(ctx, t, page.PrintToPDF, page.PrintToPDFParams{PrintBackground: &yes, PaperWidth: 13.4, PaperHeight: 40})
	})
	if err != nil {
		u.t.Fatalf("%s: print: %v", name, err)
	}
	pdf := res.Data
	pdfPath := filepath.Join(u.dir, name+".pdf")
	os.WriteFile(pdfPath, pdf, 0o644)
	out, err := exec.Command("pdftotext", "-layout", pdfPath, "-").Output()
	if err != nil {
		u.t.Fatalf("%s: pdftotext: %v", name, err)
	}
	rendered := strings.Join(strings.Fields(string(out)), " ")
	for _, want := range texts {
		if !strings.Contains(rendered, want) {
			u.t.Errorf("%s: the rendered page lacks %q (%s)", name, want, p)
		}
	}
}

func inked(img image.Image) int {
	b, n := img.Bounds(), 0
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r < 0x6000 && g < 0x6000 && bl < 0x6000 {
				n++
			}
		}
	}
	return n
}

// login fills the login form; code "" means: use the passkey.
func (u *ui) login(user, password, code string) {
	u.t.Helper()
	u.run("login page", chromedp.Navigate(u.base+"/login"), chromedp.WaitVisible("#login-form"),
		chromedp.SendKeys("#user", user), chromedp.SendKeys("#password", password))
	if code != "" {
		u.run("login with TOTP", chromedp.SendKeys("#totp", code), chromedp.Click("#login-submit"))
	} else {
		u.run("login with passkey", chromedp.Click("#login-passkey"))
	}
	u.waitText("#account-link", user)
}

func (u *ui) logout() {
	u.t.Helper()
	u.run("logout", chromedp.Click("#logout"))
	u.waitText("h1", "Log in")
}

// eval evaluates a JavaScript expression to an int.
func (u *ui) eval(expr string) int {
	u.t.Helper()
	v, err := chromedp.Run(u.ctx, chromedp.Evaluate[int](expr))
	if err != nil {
		u.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// adminDo submits one of the admin page's forms and returns the message.
func (u *ui) adminDo(sel string, actions ...chromedp.Action[chromedp.Void]) string {
	u.t.Helper()
	u.run("admin page", chromedp.Navigate(u.base+"/admin"), chromedp.WaitVisible("#users"))
	u.run("admin "+sel, append(actions, chromedp.Click(sel))...)
	return u.waitText("#msg", "")
}

// TestWebUIInChromium walks the web UI in headless Chromium with the
// DevTools WebAuthn virtual authenticator: an auditor logs in with TOTP,
// registers a passkey, logs in again with the passkey, searches, opens a
// certificate of a drive without a model, approves it signed with the
// passkey, rejects another with a reason; an admin creates a user (TOTP QR
// code), resets and disables accounts, mints and revokes tokens, adds and
// revokes a station key; the events page shows a rejected submission.
// Every page is screenshotted, checked for its key texts and for fitting
// a 1280 px window.
func TestWebUIInChromium(t *testing.T) {
	chromium := testutil.RequireCommand(t, "chromium")
	testutil.RequireCommand(t, "pdftoppm")
	testutil.RequireCommand(t, "pdftotext")
	start := time.Now()
	e := newEnv(t, backends["posix-sqlite"](t).config(t))
	ctx := context.Background()
	pub, key := newKey(t)
	if _, err := e.st.AddStationKey(ctx, "web", pub, store.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	var loopID string
	for _, d := range []certtest.Drive{
		{Serial: "WEB-0001", HostSerial: "HOST-W", Job: "JOB-WEB", AssetTag: "AT-0001"},
		{Serial: "WEB-0002", HostSerial: "HOST-W", Job: "JOB-WEB"},
		{Serial: "WEB-0003", HostSerial: "HOST-W", Job: "JOB-WEB"},
		{Loop: "/srv/images/disk7.img", HostSerial: "HOST-L", Job: "JOB-LOOP"},
	} {
		rc, _, err := e.st.Ingest(ctx, store.Submission{Envelope: certtest.MustSign(key, d)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Loop != "" {
			loopID = rc.CertificateID
		}
	}
	// A submission by an unknown key: refused, and an audit event.
	_, stranger := newKey(t)
	if _, _, err := e.st.Ingest(ctx, store.Submission{Envelope: certtest.MustSign(stranger, certtest.Drive{Serial: "EVIL-1"})}); err == nil {
		t.Fatal("unknown key accepted")
	}
	if _, err := e.anon.Submit(ctx, certtest.MustSign(stranger, certtest.Drive{Serial: "EVIL-2"})); err == nil {
		t.Fatal("unknown key accepted over HTTP")
	}
	aud, err := e.st.CreateUser(ctx, "audrey", "Auditor-Pw1", accounts.Auditor, store.Actor{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// olga is locked out: only her row offers "Unlock".
	if _, err := e.st.CreateUser(ctx, "olga", "Operator-Pw1", accounts.Operator, store.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	for range accounts.DefaultPolicy.MaxFailures {
		e.st.Login(ctx, "olga", "wrong", "", "127.0.0.1")
	}

	shots := os.Getenv("LETHE_SCREENSHOT_DIR")
	if shots == "" {
		shots = t.TempDir()
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromiumFlags(t, chromium)...)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	watchdog := time.AfterFunc(4*time.Minute, cancel) // bounded: never hang CI
	defer watchdog.Stop()
	u := &ui{t: t, ctx: bctx, base: e.base, dir: shots}
	// The DevTools WebAuthn domain: a virtual security key with a PIN
	// (user verification) that answers without a touch.
	u.run("virtual authenticator", chromedp.EmulateViewport(1280, 900), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		off := false
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{EnableUI: &off}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportUsb,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		}})
		return err
	}))

	// Log in with password and TOTP; the login returns to the search it
	// interrupted.
	code, _ := totp.Code(aud.TOTPSecret, time.Now())
	u.run("search before login", chromedp.Navigate(e.base+"/?serial=WEB-0002"), chromedp.WaitVisible("#login-form"))
	u.shot("login", "Log in", "One-time code", "Log in with a passkey")
	u.run("TOTP login", chromedp.SendKeys("#user", "audrey"), chromedp.SendKeys("#password", "Auditor-Pw1"),
		chromedp.SendKeys("#totp", code), chromedp.Click("#login-submit"))
	if got := u.waitText("#total", "1"); strings.TrimSpace(got) != "1" {
		t.Fatalf("search by serial after login: %q", got)
	}

	// Register a passkey.
	u.run("account", chromedp.Navigate(e.base+"/account"), chromedp.WaitVisible("#passkey-register"),
		chromedp.SendKeys("#passkey-name", "virtual key"), chromedp.Click("#passkey-register"))
	u.waitText("#msg", "Passkey registered")
	u.shot("account", "Passkeys and security keys", "virtual key", "active", "public key (JSON)")
	u.logout()

	// Log in with the passkey instead of a code.
	u.login("audrey", "Auditor-Pw1", "")
	if ev, _, _ := e.st.SearchEvents(ctx, store.EventQuery{Type: "login", User: "audrey"}); len(ev) == 0 || ev[0].Detail != "password + passkey" {
		t.Fatalf("passkey login event: %+v", ev)
	}

	// Search: every row links to its certificate; the loop device's row
	// shows its subject instead of a model.
	u.run("search", chromedp.Navigate(e.base+"/"), chromedp.WaitVisible("#results"))
	u.waitText("#total", "4")
	u.shot("search", "4 certificate(s)", "loop:/srv/images/disk7.img", "TESTDISK 1TB", "WEB-0003", "HOST-W", "pending", "Appendix G")
	u.run("sort by serial", chromedp.Click(`#results th a[href*="sort=serial"]`))
	u.waitText("#results tr:nth-child(2)", "loop:")
	u.run("filter", chromedp.Navigate(e.base+"/?job=JOB-WEB&per=25&sort=serial&dir=asc"), chromedp.WaitVisible("#results"))
	if got := u.waitText("#results tr:nth-child(2)", "WEB-0001"); !strings.Contains(got, "WEB-0001") {
		t.Fatalf("sorted ascending: %q", got)
	}
	u.run("hosts", chromedp.Navigate(e.base+"/hosts"), chromedp.WaitVisible("#hosts"))
	u.shot("hosts", "HOST-W", "HOST-L", "Certificates arrived")
	if got := u.text("#hosts"); !strings.Contains(got, "HOST-W") || !strings.Contains(got, "3") {
		t.Fatalf("hosts: %q", got)
	}

	// Open the certificate of the drive without a model from the search.
	u.run("open the loop device's certificate", chromedp.Navigate(e.base+"/?job=JOB-LOOP"), chromedp.WaitVisible("#results"),
		chromedp.Click("a.cert-link"), chromedp.WaitVisible("#verdict"))
	if got := u.text("#cert-status"); got != "ERASED" {
		t.Fatalf("status: %q", got)
	}
	if got := u.text("#inclusion-status"); !strings.Contains(got, "VERIFIED") {
		t.Fatalf("inclusion: %q", got)
	}
	if got := u.text("#trust"); !strings.Contains(got, "VALID") {
		t.Fatalf("signature: %q", got)
	}
	if checked := u.eval(`document.querySelectorAll('#validate-form input[type=radio]:checked').length`); checked != 0 {
		t.Fatalf("%d decision(s) pre-selected", checked)
	}
	u.shot("certificate", "loop:/srv/images/disk7.img", "ERASED", "Decision basis", "Verification: Scope", "VALID", "VERIFIED", "Hidden areas", "Sign with passkey")

	// Approve, signed with the passkey.
	u.run("approve", chromedp.Click("#approve"), chromedp.SendKeys("#comment", "evidence reviewed in Chromium"),
		chromedp.Click("#validate-submit"))
	u.waitText("#msg", "signed with your passkey")
	if got := u.text("#validation-status"); !strings.Contains(got, "APPROVED by audrey") {
		t.Fatalf("after approving: %q", got)
	}
	if got := u.text("#validations"); !strings.Contains(got, "VALID: signed by audrey's passkey") {
		t.Fatalf("auditor's signature: %q", got)
	}
	u.shot("certificate-approved", "APPROVED by audrey", "VALID: signed by audrey's passkey", "offline proof")
	v, _ := e.st.Certificate(ctx, loopID)
	proof, err := e.st.ValidationProof(ctx, v.Validations[0].LogIndex)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := proof.Verify(passkey.VerifyOptions{}); err != nil {
		t.Fatalf("the browser's validation does not verify offline: %v", err)
	}

	// Reject another: a reason is required.
	u.run("open WEB-0001", chromedp.Navigate(e.base+"/?serial=WEB-0001"), chromedp.WaitVisible("#results"),
		chromedp.Click("a.id-link"), chromedp.WaitVisible("#validate-form"),
		chromedp.Click("#reject"), chromedp.Click("#validate-submit"))
	u.waitText("#validate-msg", "needs a reason")
	u.run("reject with a reason", chromedp.SendKeys("#comment", "verification sample too small"), chromedp.Click("#validate-submit"))
	u.waitText("#msg", "Decision rejected recorded")
	if got := u.text("#validation-status"); !strings.Contains(got, "REJECTED by audrey") || !strings.Contains(got, "verification sample too small") {
		t.Fatalf("after rejecting: %q", got)
	}
	if got := u.text("#drive"); !strings.Contains(got, "AT-0001") {
		t.Fatalf("asset tag not shown: %q", got)
	}
	dl := t.TempDir()
	if _, err := chromedp.CallBrowser(bctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl}); err != nil {
		t.Fatal(err)
	}
	u.run("pdf", chromedp.Click("#pdf-link"), chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if m, _ := filepath.Glob(filepath.Join(dl, "*.pdf")); len(m) == 1 {
				png := filepath.Join(t.TempDir(), "cert")
				if out, err := exec.Command("pdftoppm", "-png", "-r", "72", "-singlefile", m[0], png).CombinedOutput(); err != nil {
					return fmt.Errorf("pdftoppm: %v %s", err, out)
				}
				checkRendered(t, png+".png")
				return nil
			}
		}
		return fmt.Errorf("the PDF did not download")
	}))
	u.logout()

	// The admin's tasks. The admin's TOTP code of this time step was used
	// by the API login in newEnv: log in a step later.
	later := time.Now().Add(totp.Step)
	e.st.SetClock(func() time.Time { return later })
	acode, _ := totp.Code(e.ia.TOTPSecret, later)
	u.login(e.ia.User, e.ia.Password, acode)
	e.st.SetClock(time.Now)
	u.run("admin", chromedp.Navigate(e.base+"/admin"), chromedp.WaitVisible("#users"))
	if unlocks := u.eval(`document.querySelectorAll('button.unlock').length`); unlocks != 1 || !strings.Contains(u.text("#user-olga"), "Unlock") {
		t.Fatalf("%d Unlock button(s); want one, on the locked account", unlocks)
	}
	msg := u.adminDo("#new-user-submit", chromedp.SendKeys("#new-user-name", "carl"),
		chromedp.SendKeys("#new-user-password", "Initial-Pw1"), chromedp.SetValue("#new-user-role", "auditor"))
	if !strings.Contains(msg, "carl (auditor) created") {
		t.Fatalf("create user: %q", msg)
	}
	u.run("QR", chromedp.WaitVisible("#totp-qr"))
	if qrWidth := u.eval(`document.getElementById('totp-qr').naturalWidth`); qrWidth < 100 {
		t.Fatalf("TOTP QR code not rendered (%d px)", qrWidth)
	}
	u.shot("admin-new-user", "carl (auditor) created", "Scan with the authenticator app of carl", "Unlock")
	for _, step := range []struct {
		sel  string
		acts []chromedp.Action[chromedp.Void]
		want string
	}{
		{"#user-carl .password-reset", []chromedp.Action[chromedp.Void]{chromedp.SendKeys(`#user-carl input[name=password]`, "Reset-Pw-22")}, "Password of carl reset"},
		{"#user-carl .totp-reset", nil, "New TOTP secret for carl"},
		{"#user-carl .disable", nil, "Account carl disabled"},
		{"#user-carl .enable", nil, "Account carl enabled"},
		{"#user-olga .unlock", nil, "Unlocked olga"},
		{"#user-audrey .passkey-reset", nil, "Revoked 1 passkey(s) of audrey"},
		{"#api-token-submit", []chromedp.Action[chromedp.Void]{chromedp.SendKeys("#api-token-user", "olga"), chromedp.SendKeys("#api-token-name", "ci"), chromedp.Click("#api-token-scope-submit")}, "API token"},
		{"#api-tokens .revoke-token", nil, "revoked"},
		{"#enrollment-submit", []chromedp.Action[chromedp.Void]{chromedp.SendKeys("#enrollment-job", "JOB-PXE")}, `job "JOB-PXE"`},
		{"#enrollment-tokens .revoke-enrollment", nil, "revoked"},
		{"#station-key-submit", []chromedp.Action[chromedp.Void]{chromedp.SendKeys("#station-key-name", "station-fra2"),
			chromedp.SetValue("#station-key-pem", string(sign.MarshalPublicKey(newPub(t))))}, "(station-fra2) is trusted"},
		{`#station-keys tr:last-child .revoke-key`, nil, "revoked; what it signed stays in the log"},
	} {
		if got := u.adminDo(step.sel, step.acts...); !strings.Contains(got, step.want) {
			t.Fatalf("admin %s: %q, want %q", step.sel, got, step.want)
		}
		if step.sel == "#api-token-submit" && !strings.Contains(u.text("#secret"), "lapi_") {
			t.Fatal("the API token is not shown")
		}
		if step.sel == "#api-token-submit" && !strings.Contains(u.text("#api-tokens"), "submit") {
			t.Fatalf("the new token's scope is not listed:\n%s", u.text("#api-tokens"))
		}
		if step.sel == "#enrollment-submit" {
			u.shot("admin-enrollment-token", "JOB-PXE", "lenr_", "shown only this once")
		}
	}
	u.shot("admin", "Administration", "Users", "API tokens", "Enrollment tokens", "Trusted station keys", "revoked")

	// Events: rejected submissions with their reason, filters, 1280 px.
	u.run("events", chromedp.Navigate(e.base+"/events?type=certificate."), chromedp.WaitVisible("#events"))
	if got := u.text("#events"); !strings.Contains(got, "certificate.rejected") || !strings.Contains(got, "403 unknown-key") {
		t.Fatalf("events lack the rejected submission: %.500q", got)
	}
	u.shot("events-certificates", "certificate.rejected", "403 unknown-key", "certificate.validated")
	u.run("events by user", chromedp.Navigate(e.base+"/events?user=carl"), chromedp.WaitVisible("#events"))
	if got := u.text("#events"); !strings.Contains(got, "admin.user.disable") || strings.Contains(got, "certificate.rejected") {
		t.Fatalf("events of carl: %.500q", got)
	}
	today := time.Now().UTC().Format("2006-01-02")
	u.run("all events", chromedp.Navigate(e.base+"/events?from="+today+"&to="+today+"&per=250"), chromedp.WaitVisible("#events"))
	u.shot("events", "Audit events", "login", "passkey.registered", "admin.user.create")
	t.Logf("browser walk took %v; screenshots in %s", time.Since(start).Round(time.Second), shots)
}

func newPub(t *testing.T) ed25519.PublicKey {
	p, _ := newKey(t)
	return p
}

// checkRendered checks that a rendered page is an A4 page with ink on it:
// the status banner and text, not a blank page.
func checkRendered(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("rendered PDF page: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < 500 || b.Dy() < 700 || b.Dy() < b.Dx() {
		t.Fatalf("rendered page is %dx%d, not A4 portrait", b.Dx(), b.Dy())
	}
	dark, green := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r < 0x4000 && g < 0x4000 && bl < 0x4000 {
				dark++
			}
			if g > 0x7000 && r < 0x3000 && bl < 0x5000 {
				green++ // the ERASED banner
			}
		}
	}
	if dark < 2000 || green < 500 {
		t.Fatalf("rendered page looks empty: %d dark, %d green samples", dark, green)
	}
}
