// Package station is lethe's one wipe pipeline, used by lethe wipe, lethe
// agent and the wiping station alike:
//
//	Options.Parse   settings as people write them -> typed Config
//	Select          device list or --all -> devices that pass the guards
//	PlanAll         probe each drive (read-only) and plan its technique
//	OpenTargets     open every drive before any is written
//	Run             execute the plans in parallel, certify each drive
//	                (NewStatement), sign and write its certificate
//	Deliverer       spool certificates and deliver them to the audit store
//
// Callers parse, call and print; the decisions (what counts as erased,
// what a delivery state means) are typed values here, not display strings.
package station
