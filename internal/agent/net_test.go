package agent

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestPinnedClient: the pin is all the client trusts.
func TestPinnedClient(t *testing.T) {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }))
	defer ts.Close()
	pin, err := ParseCertPin(CertPin(ts.Certificate().Raw))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pin string
		ok  bool
	}{{pin, true}, {strings.Repeat("0", 64), false}, {"", true}} {
		resp, err := PinnedClient(tc.pin, 5*time.Second).Get(ts.URL + "/")
		if err == nil {
			resp.Body.Close()
		}
		if (err == nil) != tc.ok {
			t.Errorf("pin %q: %v", tc.pin, err)
		}
		if err != nil && !strings.Contains(err.Error(), "is not the pinned") {
			t.Errorf("pin %q: error %v does not say why", tc.pin, err)
		}
	}
}
