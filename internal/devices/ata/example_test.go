package ata_test

import (
	"context"
	"fmt"

	"github.com/lethe-project/lethe/internal/devices/ata"
	"github.com/lethe-project/lethe/internal/devices/ata/atasim"
)

// SECURITY ERASE UNIT with a temporary password: check the state from
// IDENTIFY first (frozen, locked), set the password, prepare and erase with
// the drive's own time estimate, and confirm no password is left behind.
func Example_securityErase() {
	ctx := context.Background()
	dev := ata.New(atasim.MustNew(atasim.Config{EraseTime: 30, EnhancedEraseTime: 30, EnhancedErase: true}))

	id, _ := dev.Identify(ctx)
	enhanced := id.Security.EnhancedErase
	op := ata.OpErase
	if enhanced {
		op = ata.OpEraseEnhanced
	}
	if err := ata.SecurityCheck(id, ata.OpSetPassword); err != nil {
		fmt.Println("cannot start:", err) // e.g. ata.ErrFrozen: offer suspend/resume
		return
	}
	pw, _ := ata.NewPassword("lethe-temporary")
	if err := dev.SecuritySetPassword(ctx, pw); err != nil {
		fmt.Println(err)
		return
	}
	id, _ = dev.Identify(ctx)
	if err := ata.SecurityCheck(id, op); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("timeout:", id.SecurityEraseTimeout(enhanced))
	if err := dev.SecurityErasePrepare(ctx); err != nil {
		fmt.Println(err)
		return
	}
	if err := dev.SecurityEraseUnit(ctx, pw, enhanced, id.SecurityEraseTimeout(enhanced)); err != nil {
		// On failure: SecurityUnlock + SecurityDisablePassword with pw.
		fmt.Println(err)
		return
	}
	id, _ = dev.Identify(ctx)
	fmt.Println("after erase:", id.Security.State())
	// Output:
	// timeout: 2h0m0s
	// after erase: SEC1 (disabled, not frozen)
}
