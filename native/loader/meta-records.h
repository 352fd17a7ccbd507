/* Record payload parsers (meta-records.c), for meta.c's walk over the records. */
#ifndef STASIS_META_RECORDS_H
#define STASIS_META_RECORDS_H
#include "meta.h"
#include "../common/wire.h"

const char *mr_get_str(struct rbuf *r, char *dst, size_t cap, const char *what);
const char *mr_parse_info(struct rbuf *r, uint32_t *page_size);
const char *mr_parse_process(struct rbuf *r, struct m_process *p);
const char *mr_parse_region(struct rbuf *r, struct m_region *g);
const char *mr_parse_thread(struct rbuf *r, struct m_thread *t);
const char *mr_parse_fd(struct rbuf *r, struct fd_rec *f);
const char *mr_parse_fd_share(struct rbuf *r, struct meta *m);
const char *mr_get_siginfo(struct rbuf *r, uint32_t n, const uint8_t **out);
const char *mr_parse_proc_state(struct rbuf *r, struct m_proc_state *v);
const char *mr_parse_thread_state(struct rbuf *r, struct m_thread_state *v);
const char *mr_parse_timer(struct rbuf *r, struct m_timer *v);
const char *mr_parse_sem_undo(struct rbuf *r, struct m_sem_undo *v);
const char *mr_parse_fd_lock(struct rbuf *r, const struct meta *m, struct m_lock *k);
void mr_check_refs(const struct img_cursor *c, const struct meta *m, uint16_t type);
#endif
