package nvme_test

import (
	"context"
	"fmt"

	"github.com/lethe-project/lethe/internal/devices/nvme"
	"github.com/lethe-project/lethe/internal/devices/nvme/nvmesim"
)

// The sanitize flow the erase state machine builds on: check SANICAP,
// start, then poll log 0x81 until the operation lethe started is seen in
// progress and then ends. The simulator stands in for nvme.OpenIoctl.
func Example_sanitize() {
	ctx := context.Background()
	var t nvme.Transport = nvmesim.MustNew(nvmesim.Config{SANICAP: nvmesim.SANICAPAll, Steps: 2})

	ctrl, _ := nvme.IdentifyController(ctx, t)
	req := nvme.SanitizeRequest{Action: nvme.SanitizeBlockErase, NoDeallocate: !ctrl.Sanitize().NoDeallocInhibited}
	if err := nvme.SanitizeCheck(ctrl, req); err != nil {
		fmt.Println(err)
		return
	}
	if err := nvme.Sanitize(ctx, t, req); err != nil {
		fmt.Println(err)
		return
	}
	seen := false
	for {
		l, err := nvme.GetSanitizeLog(ctx, t)
		if err != nil {
			fmt.Println(err)
			return
		}
		if l.Status == nvme.SanitizeInProgress {
			seen = true
			fmt.Printf("in progress %.0f%%\n", l.Progress*100)
			continue // a real poller sleeps here
		}
		fmt.Println(l.Status, "after progress seen:", seen)
		return
	}
	// Output:
	// in progress 0%
	// in progress 50%
	// completed successfully after progress seen: true
}
