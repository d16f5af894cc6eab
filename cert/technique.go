package cert

// TechniqueID names one sanitization technique.
type TechniqueID string

// Technique IDs (IEEE 2883-2022 names, prefixed by interface).
const (
	TechOverwrite           TechniqueID = "overwrite"
	TechNVMeSanitizeCrypto  TechniqueID = "nvme-sanitize-crypto"
	TechNVMeSanitizeBlock   TechniqueID = "nvme-sanitize-block"
	TechNVMeSanitizeOverw   TechniqueID = "nvme-sanitize-overwrite"
	TechNVMeFormatCrypto    TechniqueID = "nvme-format-crypto"
	TechNVMeFormatUserData  TechniqueID = "nvme-format-user-data"
	TechNVMeFormatNoErase   TechniqueID = "nvme-format-no-erase"
	TechATASanitizeCrypto   TechniqueID = "ata-sanitize-crypto"
	TechATASanitizeBlock    TechniqueID = "ata-sanitize-block"
	TechATASanitizeOverw    TechniqueID = "ata-sanitize-overwrite"
	TechATASecurityEnhanced TechniqueID = "ata-security-erase-enhanced"
	TechATASecurityNormal   TechniqueID = "ata-security-erase"
	TechSCSISanitizeCrypto  TechniqueID = "scsi-sanitize-crypto"
	TechSCSISanitizeBlock   TechniqueID = "scsi-sanitize-block"
	TechSCSISanitizeOverw   TechniqueID = "scsi-sanitize-overwrite"
	TechSCSIFormatUnit      TechniqueID = "scsi-format-unit"
	TechDiscard             TechniqueID = "discard"
)

// Technique is one row of the reviewed mapping from technique to outcome
// (DESIGN.md §2, after IEEE 2883-2022 and NIST SP 800-88 Rev. 2). It is
// part of the contract: a certificate's category must not exceed what
// this table gives its technique on its medium.
type Technique struct {
	ID        TechniqueID `json:"id"`
	Interface string      `json:"interface"` // any, nvme, ata, scsi
	Name      string      `json:"name"`
	// Category is the outcome on flash media (and on media whose kind is
	// unknown); CategoryRotating on rotating media where it differs.
	Category         Category `json:"category"`
	CategoryRotating Category `json:"categoryRotating,omitempty"`
	// Reference cites where the category comes from.
	Reference string `json:"reference"`
}

// techniques is the one table every category decision comes from. Review
// changes to it against IEEE 2883-2022 §6 and NIST SP 800-88 Rev. 2 §3.
var techniques = []Technique{
	{TechNVMeSanitizeCrypto, "nvme", "NVMe Sanitize, Crypto Erase", CategoryPurge, "", "IEEE 2883-2022 §6.4.2.3; NVMe 2.0 §5.24"},
	{TechNVMeSanitizeBlock, "nvme", "NVMe Sanitize, Block Erase", CategoryPurge, "", "IEEE 2883-2022 §6.4.2.2; NVMe 2.0 §5.24"},
	{TechNVMeSanitizeOverw, "nvme", "NVMe Sanitize, Overwrite", CategoryPurge, "", "IEEE 2883-2022 §6.4.2.1; NVMe 2.0 §5.24"},
	{TechNVMeFormatCrypto, "nvme", "NVMe Format NVM, Cryptographic Erase (SES=2)", CategoryPurge, "", "IEEE 2883-2022 §6.4.3; NVMe 2.0 §5.23"},
	{TechNVMeFormatUserData, "nvme", "NVMe Format NVM, User Data Erase (SES=1)", CategoryClear, "", "IEEE 2883-2022 §6.4.3; NVMe 2.0 §5.23"},
	{TechNVMeFormatNoErase, "nvme", "NVMe Format NVM without Secure Erase (SES=0)", CategoryNone, "", "NVMe 2.0 §5.23: SES=0 requests no secure erase"},
	{TechATASanitizeCrypto, "ata", "ATA SANITIZE, CRYPTO SCRAMBLE EXT", CategoryPurge, "", "IEEE 2883-2022 §6.2.2; ACS-4 §7.36"},
	{TechATASanitizeBlock, "ata", "ATA SANITIZE, BLOCK ERASE EXT", CategoryPurge, "", "IEEE 2883-2022 §6.2.2; ACS-4 §7.36"},
	{TechATASanitizeOverw, "ata", "ATA SANITIZE, OVERWRITE EXT", CategoryPurge, "", "IEEE 2883-2022 §6.2.2; ACS-4 §7.36"},
	{TechATASecurityEnhanced, "ata", "ATA SECURITY ERASE UNIT, enhanced", CategoryClear, CategoryPurge, "IEEE 2883-2022 §6.2.3; NIST SP 800-88: Purge on rotating media only"},
	{TechATASecurityNormal, "ata", "ATA SECURITY ERASE UNIT, normal", CategoryClear, CategoryClear, "IEEE 2883-2022 §6.2.3"},
	{TechSCSISanitizeCrypto, "scsi", "SCSI SANITIZE, CRYPTOGRAPHIC ERASE", CategoryPurge, "", "IEEE 2883-2022 §6.3.2; SBC-4 §5.30"},
	{TechSCSISanitizeBlock, "scsi", "SCSI SANITIZE, BLOCK ERASE", CategoryPurge, "", "IEEE 2883-2022 §6.3.2; SBC-4 §5.30"},
	{TechSCSISanitizeOverw, "scsi", "SCSI SANITIZE, OVERWRITE", CategoryPurge, "", "IEEE 2883-2022 §6.3.2; SBC-4 §5.30"},
	{TechSCSIFormatUnit, "scsi", "SCSI FORMAT UNIT", CategoryClear, CategoryClear, "IEEE 2883-2022 §6.3.3: Clear at most"},
	{TechOverwrite, "any", "Host overwrite of every user-addressable LBA", CategoryClear, CategoryClear, "IEEE 2883-2022 §6.1; NIST SP 800-88 Rev. 2 Clear"},
	{TechDiscard, "any", "TRIM / discard / deallocate", CategoryNone, CategoryNone, "IEEE 2883-2022: deallocation does not sanitize"},
}

// LookupTechnique returns the table row for id.
func LookupTechnique(id TechniqueID) (Technique, bool) {
	for _, t := range techniques {
		if t.ID == id {
			return t, true
		}
	}
	return Technique{}, false
}

// Techniques returns a copy of the reviewed table.
func Techniques() []Technique { return append([]Technique(nil), techniques...) }

// CategoryOn is the outcome of technique t on a medium. Only media known
// to be rotating get CategoryRotating: a medium whose kind is unknown is
// treated as flash, the weaker reading.
func (t Technique) CategoryOn(rotating bool) Category {
	if rotating && t.CategoryRotating != "" {
		return t.CategoryRotating
	}
	return t.Category
}
