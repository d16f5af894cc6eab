/*
 * fakedev.c: an LD_PRELOAD shim used only to capture the command bytes that
 * hdparm, sg3_utils and nvme-cli send, for lethe's golden tests. It answers
 * SG_IO and the NVMe admin passthru ioctls itself (the real device, a scratch
 * loop device, never sees them) and logs every command to $FAKEDEV_LOG:
 *
 *   sgio dir=<none|in|out> cdb=<hex> len=<n> timeout=<ms> [data=<hex>]
 *   nvme ioctl=<admin|admin64> opc=<hex> nsid=<hex> cdw2..cdw15=<hex> data_len=<n> timeout=<ms> [data=<hex>]
 *
 * It returns a plausible ATA IDENTIFY page (security, sanitize, HPA and DCO
 * supported, security not frozen), a standard INQUIRY, and a zeroed buffer
 * for everything else, so that the tools get past their own pre-checks.
 * Build: gcc -shared -fPIC -o fakedev.so fakedev.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <scsi/sg.h>

#define NVME_ADMIN 0xC0484E41UL
#define NVME_ADMIN64 0xC0504E47UL
#define NVME_ID 0x4E40UL
#define NVME_IO 0xC0484E43UL

struct pt { uint8_t opcode, flags; uint16_t rsvd1; uint32_t nsid, cdw2, cdw3;
	uint64_t metadata, addr; uint32_t metadata_len, data_len;
	uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15, timeout_ms, result; };

static FILE *logf_(void) {
	static FILE *f;
	if (!f) { const char *p = getenv("FAKEDEV_LOG"); f = fopen(p ? p : "/dev/stderr", "a"); setvbuf(f, NULL, _IOLBF, 0); }
	return f;
}
static void hex(FILE *f, const uint8_t *b, size_t n) { for (size_t i = 0; i < n; i++) fprintf(f, "%02x", b[i]); }
static size_t trimlen(const uint8_t *b, size_t n) { while (n && !b[n-1]) n--; return n; }

static void ata_str(uint16_t *w, int first, int words, const char *s) {
	char buf[80]; memset(buf, ' ', sizeof buf); memcpy(buf, s, strlen(s));
	for (int i = 0; i < words; i++) w[first+i] = (uint16_t)((uint8_t)buf[2*i] << 8 | (uint8_t)buf[2*i+1]);
}
static void identify(uint8_t *p) {
	uint16_t w[256]; memset(w, 0, sizeof w);
	w[0] = 0x0040; ata_str(w, 10, 10, "FAKE0001"); ata_str(w, 23, 4, "1.0"); ata_str(w, 27, 20, "lethe capture");
	w[49] = 0x0300; w[53] = 0x0006; w[59] = 0xf000 | 0x0800; w[60] = 0x0000; w[61] = 0x0020; /* 2 Mi sectors */
	w[80] = 0x07f0; w[82] = 0x0402 /* security, HPA */; w[83] = 0x4c00 /* 48-bit, DCO */; w[84] = 0x4000;
	w[85] = 0x0400; w[86] = 0x0c00; w[87] = 0x4000; w[89] = 10; w[90] = 20; w[100] = 0x0000; w[101] = 0x0020;
	w[106] = 0x4000; w[128] = 0x0021 /* supported, enhanced erase */; w[217] = 1;
	w[255] = 0x00a5; uint8_t sum = 0; memcpy(p, w, 512); for (int i = 0; i < 511; i++) sum += p[i];
	p[511] = (uint8_t)(-sum);
}

int ioctl(int fd, unsigned long req, ...) {
	va_list ap; va_start(ap, req); void *arg = va_arg(ap, void *); va_end(ap);
	FILE *f = logf_();
	if (req == SG_IO) {
		sg_io_hdr_t *h = arg; uint8_t *cdb = h->cmdp;
		const char *dir = h->dxfer_direction == SG_DXFER_TO_DEV ? "out" : h->dxfer_direction == SG_DXFER_FROM_DEV ? "in" : "none";
		fprintf(f, "sgio dir=%s cdb=", dir); hex(f, cdb, h->cmd_len);
		fprintf(f, " len=%u timeout=%u", h->dxfer_len, h->timeout);
		if (h->dxfer_direction == SG_DXFER_TO_DEV) { fprintf(f, " data="); hex(f, h->dxferp, trimlen(h->dxferp, h->dxfer_len)); }
		fprintf(f, "\n");
		h->status = 0; h->masked_status = 0; h->host_status = 0; h->driver_status = 0; h->resid = 0; h->sb_len_wr = 0; h->info = 0; h->duration = 1;
		if (h->dxfer_direction == SG_DXFER_FROM_DEV && h->dxferp) {
			uint8_t *d = h->dxferp; memset(d, 0, h->dxfer_len);
			if (cdb[0] == 0x85 && (cdb[14] == 0xec) && h->dxfer_len >= 512) identify(d);
			if (cdb[0] == 0x12 && !(cdb[1] & 1) && h->dxfer_len >= 36) {
				d[0] = 0; d[2] = 6; d[3] = 2; d[4] = 31; memcpy(d+8, "LETHE   CAPTURE DISK    1.0 ", 28);
			}
			if (cdb[0] == 0x9e && h->dxfer_len >= 12) { d[6] = 0x1f; d[7] = 0xff; d[10] = 2; } /* 8 Mi blocks of 512 */
			if (cdb[0] == 0x25 && h->dxfer_len >= 8) { d[1] = 0x7f; d[2] = 0xff; d[3] = 0xff; d[6] = 2; }
			if (cdb[0] == 0x03 && h->dxfer_len >= 18) { d[0] = 0x70; d[7] = 10; }
			if (cdb[0] == 0xa3 && h->dxfer_len >= 4) { d[1] = 3; d[3] = 10; d[4] = cdb[3]; }
			if (cdb[0] == 0x5a && (cdb[2] & 0x3f) == 0x0a) { /* MODE SENSE(10), Control page, D_SENSE=0 */
				uint8_t m[20] = {0, 18, 0, 0, 0, 0, 0, 0, 0x0a, 0x0a};
				memcpy(d, m, h->dxfer_len < sizeof m ? h->dxfer_len : sizeof m);
			}
			if (cdb[0] == 0x12 && (cdb[1] & 1) && h->dxfer_len >= 64) {
				d[1] = cdb[2];
				switch (cdb[2]) {
				case 0x00: d[3] = 4; d[4] = 0x00; d[5] = 0x80; d[6] = 0x83; d[7] = 0xb1; break;
				case 0x80: d[3] = 8; memcpy(d+4, "SERIAL01", 8); break;
				case 0x83: d[3] = 12; d[4] = 0x01; d[5] = 0x03; d[7] = 8; d[8] = 0x50; d[15] = 0x01; break;
				case 0xb1: d[3] = 0x3c; d[5] = 0x01; break;
				}
			}
		}
		/* ATA PASS-THROUGH with CK_COND: return an ATA Status Return descriptor, status DRDY. */
		if (cdb[0] == 0x85 && (cdb[2] & 0x20) && h->sbp && h->mx_sb_len >= 22) {
			uint8_t *s = h->sbp; memset(s, 0, h->mx_sb_len);
			s[0] = 0x72; s[1] = 0x01; s[2] = 0x00; s[3] = 0x1d; s[7] = 14; s[8] = 0x09; s[9] = 0x0c;
			s[8+5] = 0x80 * 0; s[8+4] = (cdb[14] == 0xb4) ? 0x80 : 0; s[8+13] = 0x50;
			h->sb_len_wr = 22; h->status = 2; h->masked_status = 1; h->driver_status = 0x08;
		}
		return 0;
	}
	if (req == NVME_ADMIN || req == NVME_ADMIN64 || req == NVME_IO) {
		struct pt *c = arg;
		fprintf(f, "nvme ioctl=%s opc=%02x flags=%02x nsid=%08x cdw2=%08x cdw3=%08x cdw10=%08x cdw11=%08x cdw12=%08x cdw13=%08x cdw14=%08x cdw15=%08x data_len=%u timeout=%u",
			req == NVME_ADMIN ? "admin" : req == NVME_IO ? "io" : "admin64", c->opcode, c->flags, c->nsid, c->cdw2, c->cdw3,
			c->cdw10, c->cdw11, c->cdw12, c->cdw13, c->cdw14, c->cdw15, c->data_len, c->timeout_ms);
		fprintf(f, "\n");
		if (c->addr && c->data_len && c->opcode != 0x01 && c->opcode != 0x09 && c->opcode != 0x11) {
			uint8_t *d = (uint8_t *)(uintptr_t)c->addr; memset(d, 0, c->data_len);
			if (c->opcode == 0x06 && (c->cdw10 & 0xff) == 0 && c->data_len >= 4096) { d[25] = 1; d[130] = 9; d[134] = 12; } /* 2 LBA formats */
			if (c->opcode == 0x06 && (c->cdw10 & 0xff) == 1 && c->data_len >= 4096) { d[256] = 0x06; d[328] = 0x07; d[516] = 1; }
		}
		c->result = 0;
		return 0;
	}
	if (req == NVME_ID) { fprintf(f, "nvme ioctl=id\n"); return 1; }
	int (*real)(int, unsigned long, ...) = dlsym(RTLD_NEXT, "ioctl");
	return real(fd, req, arg);
}
