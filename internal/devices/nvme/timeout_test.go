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
		{SanitizeRequest{Action: SanitizeBlockErase, NoDeallocate: true}, 30 * time.Minute},
		{SanitizeRequest{Action: SanitizeCryptoErase}, 20*time.Second + 10*time.Minute},
		{SanitizeRequest{Action: SanitizeOverwrite, OverwritePasses: 3}, 60*time.Second + 10*time.Minute},
	} {
		if got := SanitizeTimeout(l, c.r, 1e9); got != c.want {
			t.Errorf("%+v: %v, want %v", c.r, got, c.want)
		}
	}
}
