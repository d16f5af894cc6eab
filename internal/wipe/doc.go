// Package wipe sanitizes one drive: the planner picks a technique from
// what the drive advertises (the reviewed table in package cert), the
// overwrite engine writes and reads back patterns at device speed, and the
// firmware state machines drive NVMe Sanitize / Format NVM, ATA SANITIZE /
// SECURITY ERASE UNIT and SCSI SANITIZE to a proven end (canaries and
// before/after fingerprints, job state persisted across power loss).
// Execute is the single entry point; its Report is made of the
// certificate schema's types, which the station turns into a certificate.
package wipe
