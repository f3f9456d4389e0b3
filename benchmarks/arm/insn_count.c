/*
 * insn_count: a QEMU TCG plugin (user mode, plugin API v1 as in QEMU 7.2) that counts the guest
 * instructions executed between two marker system calls, by class, and lists the hottest blocks.
 *
 * The guest marks a window with syscall(MARK_NR, MARK_START, tag) ... syscall(MARK_NR, MARK_STOP, tag,
 * hot). MARK_NR is not a Linux syscall: QEMU reports it to plugins, then fails it with ENOSYS, so the
 * markers have no other effect. At STOP one JSON line is appended to out=FILE:
 *   {"tag":T,"insns":N,"classes":{...},"blocks":B,"hot":[{"vaddr":A,"count":C,"insns":I,"bytes":"hex"},...]}
 * (hot: only when the guest asks, the top hot=N blocks by instructions executed).
 *
 * Counting is at translation-block granularity (an inline add per block execution): exact for code
 * that does not fault mid-block, which is all of an invoke(). One guest thread is assumed inside a
 * window (the benchmark runs LiteRT with one thread); the counters are not atomic.
 *
 * Debian 12 ships no qemu-plugin.h, so the few API v1 declarations used are written out below, as
 * documented in QEMU 7.2's include/qemu/qemu-plugin.h.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- QEMU plugin API v1 (QEMU 7.2), the subset used here ---- */
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t; /* only passed through */
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 = 0 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_syscall_cb_t)(qemu_plugin_id_t id, unsigned int vcpu_index, int64_t num,
                                              uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                              uint64_t a5, uint64_t a6, uint64_t a7, uint64_t a8);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_syscall_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_syscall_cb_t cb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
                                              void *ptr, uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
void qemu_plugin_outs(const char *string);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* ---- markers (keep in step with portrait_bench/arm/guest.py) ---- */
#define MARK_NR 0x7E57
#define MARK_START 1
#define MARK_STOP 2

/* ---- instruction classes (AArch64 encodings, Arm ARM C4.1) ---- */
enum { C_LDST, C_LDST_SIMD, C_SIMD, C_DOT, C_FMLA, C_MLAL, C_BRANCH, C_SVE, C_SME, NCLS };
static const char *CLS_NAMES[NCLS] = {"load_store", "load_store_simd", "simd_fp", "dot_product",
                                      "fmla", "int_mla_long", "branch", "sve", "sme"};

static void classify(uint32_t w, uint32_t *cls)
{
    uint32_t op0 = (w >> 25) & 0xF;
    if ((op0 & 0x5) == 0x4) { /* x1x0: loads and stores */
        cls[C_LDST]++;
        if (w & (1u << 26)) cls[C_LDST_SIMD]++;
    } else if ((op0 & 0x7) == 0x7) { /* x111: scalar FP and Advanced SIMD */
        cls[C_SIMD]++;
        if ((w & 0x9FE0F400) == 0x0E809400      /* SDOT/UDOT/USDOT (vector) */
            || (w & 0x9FC0E400) == 0x0F80E000   /* SDOT/UDOT/SUDOT/USDOT (by element) */
            || (w & 0xDFE0F400) == 0x4E80A400)  /* SMMLA/UMMLA/USMMLA */
            cls[C_DOT]++;
        else if ((w & 0x9FA0FC00) == 0x0E20CC00 /* FMLA (vector) */
                 || (w & 0xBF00F400) == 0x0F001000) /* FMLA (by element, fp16/32/64) */
            cls[C_FMLA]++;
        else if ((w & 0x9F20FC00) == 0x0E208000 /* SMLAL/UMLAL (vector) */
                 || (w & 0x9F00F400) == 0x0F002000) /* SMLAL/UMLAL (by element) */
            cls[C_MLAL]++;
    } else if ((op0 & 0xE) == 0xA) { /* 101x: branches, exceptions, system */
        cls[C_BRANCH]++;
    } else if (op0 == 0x2) { /* 0010: SVE */
        cls[C_SVE]++;
    } else if (op0 == 0x0 && (w >> 31)) { /* 1xx0000: SME */
        cls[C_SME]++;
    }
}

/* ---- one record per translated block (stable addresses: the inline add points into it) ---- */
typedef struct {
    uint64_t count; /* executions since the last START */
    uint64_t vaddr;
    uint32_t n_insns;
    uint32_t n_bytes;
    uint32_t cls[NCLS];
    uint8_t *bytes;
} tb_rec;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static tb_rec **recs;
static size_t n_recs, cap_recs;
static char *out_path;
static size_t hot_n = 200;

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    tb_rec *r = calloc(1, sizeof(*r));
    if (!r) return;
    r->vaddr = qemu_plugin_tb_vaddr(tb);
    r->n_insns = (uint32_t)n;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += qemu_plugin_insn_size(qemu_plugin_tb_get_insn(tb, i));
    r->bytes = malloc(total ? total : 1);
    for (size_t i = 0, off = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        size_t sz = qemu_plugin_insn_size(insn);
        const uint8_t *d = qemu_plugin_insn_data(insn);
        if (r->bytes) memcpy(r->bytes + off, d, sz);
        if (sz == 4) {
            uint32_t w = (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
            classify(w, r->cls);
        }
        off += sz;
    }
    r->n_bytes = (uint32_t)total;
    pthread_mutex_lock(&lock);
    if (n_recs == cap_recs) {
        size_t cap = cap_recs ? cap_recs * 2 : 4096;
        tb_rec **grown = realloc(recs, cap * sizeof(*recs));
        if (!grown) { pthread_mutex_unlock(&lock); return; }
        recs = grown;
        cap_recs = cap;
    }
    recs[n_recs++] = r;
    pthread_mutex_unlock(&lock);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &r->count, 1);
}

static int by_weight(const void *a, const void *b)
{
    const tb_rec *x = *(tb_rec *const *)a, *y = *(tb_rec *const *)b;
    uint64_t wx = x->count * x->n_insns, wy = y->count * y->n_insns;
    if (wx != wy) return wx < wy ? 1 : -1;
    return x->vaddr < y->vaddr ? -1 : (x->vaddr > y->vaddr);
}

static void stop_window(uint64_t tag, uint64_t want_hot)
{
    uint64_t insns = 0, cls[NCLS] = {0}, blocks = 0;
    tb_rec **hot = NULL;
    size_t n_hot = 0;
    pthread_mutex_lock(&lock);
    if (want_hot) hot = malloc((n_recs ? n_recs : 1) * sizeof(*hot));
    for (size_t i = 0; i < n_recs; i++) {
        tb_rec *r = recs[i];
        if (!r->count) continue;
        blocks++;
        insns += r->count * r->n_insns;
        for (int k = 0; k < NCLS; k++) cls[k] += r->count * r->cls[k];
        if (hot) hot[n_hot++] = r;
    }
    FILE *f = out_path ? fopen(out_path, "a") : NULL;
    if (!f) {
        qemu_plugin_outs("insn_count: cannot open out= file\n");
        pthread_mutex_unlock(&lock);
        free(hot);
        return;
    }
    fprintf(f, "{\"tag\":%" PRIu64 ",\"insns\":%" PRIu64 ",\"blocks\":%" PRIu64 ",\"classes\":{", tag, insns, blocks);
    for (int k = 0; k < NCLS; k++) fprintf(f, "%s\"%s\":%" PRIu64, k ? "," : "", CLS_NAMES[k], cls[k]);
    fprintf(f, "}");
    if (hot) {
        qsort(hot, n_hot, sizeof(*hot), by_weight);
        fprintf(f, ",\"hot\":[");
        for (size_t i = 0; i < n_hot && i < hot_n; i++) {
            tb_rec *r = hot[i];
            fprintf(f, "%s{\"vaddr\":%" PRIu64 ",\"count\":%" PRIu64 ",\"insns\":%u,\"bytes\":\"", i ? "," : "",
                    r->vaddr, r->count, r->n_insns);
            for (uint32_t b = 0; b < r->n_bytes && r->bytes; b++) fprintf(f, "%02x", r->bytes[b]);
            fprintf(f, "\"}");
        }
        fprintf(f, "]");
    }
    fprintf(f, "}\n");
    fclose(f);
    pthread_mutex_unlock(&lock);
    free(hot);
}

static void on_syscall(qemu_plugin_id_t id, unsigned int vcpu, int64_t num, uint64_t a1, uint64_t a2,
                       uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7, uint64_t a8)
{
    (void)id; (void)vcpu; (void)a4; (void)a5; (void)a6; (void)a7; (void)a8;
    if (num != MARK_NR) return;
    if (a1 == MARK_START) {
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < n_recs; i++) recs[i]->count = 0;
        pthread_mutex_unlock(&lock);
    } else if (a1 == MARK_STOP) {
        stop_window(a2, a3);
    }
}

static void at_exit(qemu_plugin_id_t id, void *u)
{
    (void)id; (void)u;
    for (size_t i = 0; i < n_recs; i++) { free(recs[i]->bytes); free(recs[i]); }
    free(recs);
    free(out_path);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                                               int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) out_path = strdup(argv[i] + 4);
        else if (strncmp(argv[i], "hot=", 4) == 0) hot_n = strtoul(argv[i] + 4, NULL, 10);
        else {
            fprintf(stderr, "insn_count: unknown argument %s (known: out=FILE, hot=N)\n", argv[i]);
            return -1;
        }
    }
    if (!out_path) {
        fprintf(stderr, "insn_count: out=FILE is required\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_vcpu_syscall_cb(id, on_syscall);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
