// Package logverify checks the audit store's transparency log offline:
// signed checkpoints (c2sp.org/tlog-checkpoint, signed notes with the
// store's log key), inclusion proofs for an entry and consistency proofs
// between two checkpoints (RFC 6962 Merkle trees, as Tessera lays them
// out). Receipts (package receipt), lethe audit verify-log and the mirror
// use it; it holds no storage, so it builds on every OS.
package logverify
