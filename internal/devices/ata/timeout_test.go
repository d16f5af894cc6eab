package ata

import (
	"testing"
	"time"
)

func TestSanitizeTimeout(t *testing.T) {
	id := &Identify{Sectors: 1e9 / 512 * 10, LogicalSectorSize: 512} // 10 GB
	if got := SanitizeTimeout(id, SanitizeBlockErase, SanitizeOptions{}); got != 200*time.Second+30*time.Minute {
		t.Errorf("block: %v", got)
	}
	if got := SanitizeTimeout(id, SanitizeOverwrite, SanitizeOptions{Passes: 2}); got != 400*time.Second+30*time.Minute {
		t.Errorf("overwrite x2: %v", got)
	}
}
