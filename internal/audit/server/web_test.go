package server

import (
	"context"
	"image"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/lethe-project/lethe/internal/audit/accounts"
	"github.com/lethe-project/lethe/internal/audit/certtest"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/audit/totp"
	"github.com/lethe-project/lethe/internal/testutil"
)

// TestWebUIInChromium drives the web UI in headless Chromium as an
// auditor: log in with password and TOTP, search, open a certificate,
// download its PDF (rendered to PNG with pdftoppm and checked), validate.
func TestWebUIInChromium(t *testing.T) {
	chromium := testutil.RequireCommand(t, "chromium")
	pdftoppm := testutil.RequireCommand(t, "pdftoppm")
	e := newEnv(t, backends["posix-sqlite"](t).config(t))
	ctx := context.Background()
	pub, key := newKey(t)
	if _, err := e.st.AddStationKey(ctx, "web", pub, store.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	for _, serial := range []string{"WEB-0001", "WEB-0002", "WEB-0003"} {
		if _, _, err := e.st.Ingest(ctx, store.Submission{Envelope: certtest.MustSign(key, certtest.Drive{Serial: serial, HostSerial: "HOST-W", Job: "JOB-WEB"})}); err != nil {
			t.Fatal(err)
		}
	}
	aud, err := e.st.CreateUser(ctx, "audrey", "Auditor-Pw1", accounts.Auditor, store.Actor{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}

	downloads := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors", true)) // the test server's certificate is self-signed
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	watchdog := time.AfterFunc(3*time.Minute, cancel) // bounded: never hang CI
	defer watchdog.Stop()

	code, _ := totp.Code(aud.TOTPSecret, time.Now())
	if err := chromedp.Do(bctx,
		chromedp.Navigate(e.ts.URL+"/?serial=WEB-0002"),
		chromedp.WaitVisible("#login-form"),
		chromedp.SendKeys("#user", "audrey"),
		chromedp.SendKeys("#password", "Auditor-Pw1"),
		chromedp.SendKeys("#totp", code),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible("#search-form"),
	); err != nil {
		t.Fatalf("login: %v", err)
	}
	// The login redirected back to the search it interrupted.
	total, err := chromedp.Run(bctx, chromedp.Text("#total"))
	if err != nil || strings.TrimSpace(total) != "1" {
		t.Fatalf("search by serial: %q %v", total, err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("serial").value = ""`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx,
		chromedp.SendKeys("#host", "HOST-W"), chromedp.Click("#search-submit"), chromedp.WaitVisible("#results"),
	); err != nil {
		t.Fatal(err)
	}
	// The click starts a navigation; the old page's #total is visible
	// until the new page replaces it, so poll for the new count.
	if total, ok := textEventually(bctx, "#total", "3"); !ok {
		t.Fatalf("search by host serial: %q", total)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(e.ts.URL+"/?serial=WEB-0002"), chromedp.WaitVisible("#results"),
		chromedp.Click("a.cert-link"), chromedp.WaitVisible("#sig-status")); err != nil {
		t.Fatalf("open certificate: %v", err)
	}
	for sel, want := range map[string]string{"#sig-status": "VALID", "#inclusion-status": "VERIFIED", "#cert-serial": "WEB-0002", "#validation-status": "pending"} {
		got, err := chromedp.Run(bctx, chromedp.Text(sel))
		if err != nil || !strings.Contains(got, want) {
			t.Errorf("%s: %q (%v), want %q", sel, got, err, want)
		}
	}
	if fields, _ := chromedp.Run(bctx, chromedp.Text("#fields")); !strings.Contains(fields, "predicate.media.serial") || !strings.Contains(fields, "predicate.verification.result") {
		t.Errorf("certificate page lacks fields: %.200q", fields)
	}

	// Download the PDF through the browser.
	if _, err := chromedp.CallBrowser(bctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.Click("#pdf-link")); err != nil {
		t.Fatal(err)
	}
	var pdf string
	for deadline := time.Now().Add(60 * time.Second); pdf == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if m, _ := filepath.Glob(filepath.Join(downloads, "*.pdf")); len(m) == 1 {
			pdf = m[0]
		}
	}
	if pdf == "" {
		t.Fatal("the PDF did not download")
	}
	png := filepath.Join(t.TempDir(), "cert")
	if out, err := exec.Command(pdftoppm, "-png", "-r", "72", "-singlefile", pdf, png).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	checkRendered(t, png+".png")
	if text, err := exec.Command("pdftotext", pdf, "-").Output(); err == nil {
		for _, want := range []string{"WEB-0002", "ERASED", "VALID", "entry"} {
			if !strings.Contains(strings.ToUpper(string(text)), strings.ToUpper(want)) {
				t.Errorf("PDF text lacks %q", want)
			}
		}
	}

	// Validate.
	if err := chromedp.Do(bctx, chromedp.Click("#approve"), chromedp.SendKeys("#comment", "evidence reviewed in Chromium"),
		chromedp.Click("#validate-submit"), chromedp.WaitVisible("#msg")); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if got, _ := chromedp.Run(bctx, chromedp.Text("#validation-status")); !strings.Contains(got, "APPROVED by audrey") {
		t.Fatalf("validation status after approving: %q", got)
	}
	if shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(80)); err == nil {
		if dir := os.Getenv("LETHE_SCREENSHOT_DIR"); dir != "" {
			os.WriteFile(filepath.Join(dir, "certificate-page.jpg"), shot, 0o644)
			b, _ := os.ReadFile(png + ".png")
			os.WriteFile(filepath.Join(dir, "certificate-pdf.png"), b, 0o644)
		}
	}
	ev, err := e.st.Events(ctx, "certificate.validated", 10)
	if err != nil || len(ev) != 1 || ev[0].Subject != "audrey" || ev[0].Result != "approved" {
		t.Fatalf("validation event: %+v %v", ev, err)
	}
}

// textEventually polls the text of sel until it is want, for up to 20 s.
func textEventually(ctx context.Context, sel, want string) (string, bool) {
	var got string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		got, _ = chromedp.Run(actx, chromedp.Text(sel))
		cancel()
		if strings.TrimSpace(got) == want {
			return got, true
		}
	}
	return got, false
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
