// Package conformance holds TABLE.md, the fields and states lethe's
// storage command layer relies on, written from the specifications and
// not from the simulators: each row gives the raw value, what the
// specification says it means (with the figure or table), the reference
// tool's file that reads the same field, what lethe's parser makes of it,
// and the state in which each simulator produces it. The package's test
// runs lethe's parsers and nvmesim, atasim and scsisim against every row,
// so a misreading shared by the code and its simulator shows up as a
// disagreement with the table.
package conformance
