package nvme

import (
	"testing"
	"time"
)

func TestSanitizeTimeout(t *testing.T) {
	l := &SanitizeLog{ETO: NotReported, ETBE: 60, ETCE: NotReported, ETOND: NotReported, ETBEND: 600, ETCEND: NotReported}
	for _, c := range []struct {
		r    SanitizeRequest
		want time.Duration
	}{
		{SanitizeRequest{Action: SanitizeBlockErase}, 12 * time.Minute},
		// ETBEND applies only with NODMMAS 10b (below): here ETBE.
		{SanitizeRequest{Action: SanitizeBlockErase, NoDeallocate: true}, 12 * time.Minute},
		{SanitizeRequest{Action: SanitizeCryptoErase}, 20*time.Second + 10*time.Minute},
		{SanitizeRequest{Action: SanitizeOverwrite, OverwritePasses: 3}, 60*time.Second + 10*time.Minute},
	} {
		if got := SanitizeTimeout(l, c.r, NODMMASNotModified, 1e9); got != c.want {
			t.Errorf("%+v: %v, want %v", c.r, got, c.want)
		}
	}
	if got := SanitizeTimeout(l, SanitizeRequest{Action: SanitizeBlockErase, NoDeallocate: true}, NODMMASModified, 1e9); got != 30*time.Minute {
		t.Errorf("ETBEND with NODMMAS 10b: %v", got)
	}
	// An overwrite's scaled estimate never undercuts the capacity bound.
	l.ETO = 160
	for _, c := range []struct {
		r    SanitizeRequest
		want time.Duration
	}{
		{SanitizeRequest{Action: SanitizeOverwrite, OverwritePasses: 1}, 20*time.Second + 10*time.Minute},
		{SanitizeRequest{Action: SanitizeOverwrite, OverwritePasses: 16}, 320*time.Second + 10*time.Minute},
	} {
		if got := SanitizeTimeout(l, c.r, NODMMASNotModified, 1e9); got != c.want {
			t.Errorf("%+v: %v, want %v", c.r, got, c.want)
		}
	}
}
