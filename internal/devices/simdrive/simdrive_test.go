package simdrive_test

import (
	"github.com/lethe-project/lethe/internal/devices/ata/atasim"
	"github.com/lethe-project/lethe/internal/devices/nvme/nvmesim"
	"github.com/lethe-project/lethe/internal/devices/scsi/scsisim"
	"github.com/lethe-project/lethe/internal/devices/simdrive"
)

// The three simulators implement the shared interface.
var (
	_ simdrive.Drive = (*nvmesim.Controller)(nil)
	_ simdrive.Drive = (*atasim.Drive)(nil)
	_ simdrive.Drive = (*scsisim.Disk)(nil)
)
